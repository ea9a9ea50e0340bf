import { message as rheaMessage } from 'rhea';
import { describe, expect, test } from 'vitest';
import { writeDispositions } from '../../src/amqp/rhea/disposition-ranges';

function deliveries(states: unknown[], written: Record<string, unknown>[]) {
  const link = { is_receiver: () => true, session: { output: (frame: unknown) => written.push(frame as Record<string, unknown>) } };
  return states.map((state, id) => ({ id, state, settled: true, link }));
}

// rhea keeps a delivery's state in its described form, as it goes on the wire.
const accepted = rheaMessage.accepted().described();
const rejected = rheaMessage.rejected({}).described();
const names = new Map<unknown, string>([
  [accepted, 'accepted'],
  [rejected, 'rejected'],
]);

function ranges(written: Record<string, unknown>[]): string[] {
  return written.map((frame) => {
    const fields = frame as { first: number; last: number; state?: unknown };
    return `${fields.first}-${fields.last}:${names.get(fields.state)}`;
  });
}

describe('dispositions (AMQP 1.0 2.7.6)', () => {
  test('a range holds only deliveries with the same outcome (rhea merged a rejected one with the next accepted one)', () => {
    const written: Record<string, unknown>[] = [];
    writeDispositions(deliveries([rejected, accepted, accepted, rejected], written));
    expect(ranges(written)).toEqual(['0-0:rejected', '1-2:accepted', '3-3:rejected']);
  });

  test('consecutive equal outcomes share one frame', () => {
    const written: Record<string, unknown>[] = [];
    writeDispositions(deliveries([accepted, accepted, accepted], written));
    expect(ranges(written)).toEqual(['0-2:accepted']);
  });
});
