import type { Outcome } from '../../src/core/types';

/**
 * Command logs as literal, readable lines, so that a counterexample can be pinned as a scenario test:
 *   send A1 group=A closes ttl=50 to=q     a message labelled A1 (every option but the label optional)
 *   attach c1 queue=q priority=2 exclusive presettled
 *   detach c1                              (detach, connection loss and idle time-out alike)
 *   credit c1 5 drain
 *   settle c1 A1 modified:failed:here      accepted | released | rejected | modified[:failed][:here]
 *   tick 100                               the clock moves on 100 ms, then a tick
 *   delete q                               the queue is deleted (README "Queue lifetime")
 * The queue defaults to `q`. A settle names the consumer's unsettled delivery by its message's label.
 */
export type Step =
  | { op: 'send'; label: string; queue: string; group: string | null; closes: boolean; ttlMs: number | null }
  | { op: 'attach'; consumer: string; queue: string; priority: number; exclusive: boolean; presettled: boolean }
  | { op: 'detach'; consumer: string }
  | { op: 'credit'; consumer: string; credit: number; drain: boolean }
  | { op: 'settle'; consumer: string; label: string; outcome: Outcome }
  | { op: 'tick'; ms: number }
  | { op: 'delete'; queue: string };

export const DEFAULT_QUEUE = 'q';

export function parseStep(line: string): Step {
  const [op, ...words] = line.trim().split(/\s+/);
  const flags = new Set(words.filter((w) => !w.includes('=')));
  const option = (name: string): string | undefined => words.find((w) => w.startsWith(`${name}=`))?.slice(name.length + 1);
  const fail = (): never => {
    throw new Error(`cannot read step "${line}"`);
  };
  switch (op) {
    case 'send':
      return {
        op,
        label: words[0] ?? fail(),
        queue: option('to') ?? DEFAULT_QUEUE,
        group: option('group') ?? null,
        closes: flags.has('closes'),
        ttlMs: option('ttl') === undefined ? null : Number(option('ttl')),
      };
    case 'attach':
      return {
        op,
        consumer: words[0] ?? fail(),
        queue: option('queue') ?? DEFAULT_QUEUE,
        priority: Number(option('priority') ?? 0),
        exclusive: flags.has('exclusive'),
        presettled: flags.has('presettled'),
      };
    case 'detach':
      return { op, consumer: words[0] ?? fail() };
    case 'credit':
      return { op, consumer: words[0] ?? fail(), credit: Number(words[1] ?? fail()), drain: flags.has('drain') };
    case 'settle':
      return { op, consumer: words[0] ?? fail(), label: words[1] ?? fail(), outcome: parseOutcome(words[2] ?? fail()) };
    case 'tick':
      return { op, ms: Number(words[0] ?? fail()) };
    case 'delete':
      return { op, queue: words[0] ?? fail() };
    default:
      return fail();
  }
}

export function formatStep(step: Step): string {
  switch (step.op) {
    case 'send':
      return [
        'send',
        step.label,
        step.group === null ? '' : `group=${step.group}`,
        step.closes ? 'closes' : '',
        step.ttlMs === null ? '' : `ttl=${step.ttlMs}`,
        step.queue === DEFAULT_QUEUE ? '' : `to=${step.queue}`,
      ]
        .filter(Boolean)
        .join(' ');
    case 'attach':
      return [
        'attach',
        step.consumer,
        step.queue === DEFAULT_QUEUE ? '' : `queue=${step.queue}`,
        step.priority === 0 ? '' : `priority=${step.priority}`,
        step.exclusive ? 'exclusive' : '',
        step.presettled ? 'presettled' : '',
      ]
        .filter(Boolean)
        .join(' ');
    case 'detach':
      return `detach ${step.consumer}`;
    case 'credit':
      return `credit ${step.consumer} ${step.credit}${step.drain ? ' drain' : ''}`;
    case 'settle':
      return `settle ${step.consumer} ${step.label} ${formatOutcome(step.outcome)}`;
    case 'tick':
      return `tick ${step.ms}`;
    case 'delete':
      return `delete ${step.queue}`;
  }
}

function parseOutcome(word: string): Outcome {
  if (word === 'accepted' || word === 'released' || word === 'rejected') return { type: word };
  const [type, ...modifiers] = word.split(':');
  if (type !== 'modified' || modifiers.some((m) => m !== 'failed' && m !== 'here')) throw new Error(`unknown outcome ${word}`);
  return { type: 'modified', deliveryFailed: modifiers.includes('failed'), undeliverableHere: modifiers.includes('here') };
}

export function formatOutcome(outcome: Outcome): string {
  if (outcome.type !== 'modified') return outcome.type;
  return ['modified', outcome.deliveryFailed ? 'failed' : '', outcome.undeliverableHere ? 'here' : ''].filter(Boolean).join(':');
}
