import type { Outcome } from '../../src/core/types';

/**
 * Command logs as literal, readable lines, so that a counterexample can be pinned as a scenario test:
 *   send A1 group=A closes ttl=50 to=q     a message labelled A1 (every option but the label optional)
 *   send A1 prio=8 color=red delay=100     header.priority 8 (default 4), a colour selectors read,
 *                                          delivered 100 ms from now (scheduled)
 *   attach c1 queue=q priority=2 exclusive presettled
 *   attach c1 selector=red|retry browse    a selector (see selectorMatches), a browser
 *   detach c1                              (detach, connection loss and idle time-out alike)
 *   credit c1 5 drain
 *   settle c1 A1 modified:failed:here      accepted | released | rejected | modified[:failed][:here]
 *   tick 100                               the clock moves on 100 ms, then a tick
 *   purge queue=DLQ                        operator: the queue's queued messages go
 *   release A queue=q                      operator: group A leaves its owner
 *   retry queue=DLQ from=q limit=2         operator: dead letters go back to their queues
 *   delete q                               the queue goes with its messages (it has no consumer)
 * The queue defaults to `q` (for retry, `DLQ`). A settle names the consumer's unsettled delivery by its message's label.
 */
export type Step =
  | {
      op: 'send';
      label: string;
      queue: string;
      group: string | null;
      closes: boolean;
      ttlMs: number | null;
      priority: number | null;
      color: string | null;
      delayMs: number | null;
    }
  | { op: 'attach'; consumer: string; queue: string; priority: number; exclusive: boolean; presettled: boolean; selector: string | null; browse: boolean }
  | { op: 'detach'; consumer: string }
  | { op: 'credit'; consumer: string; credit: number; drain: boolean }
  | { op: 'settle'; consumer: string; label: string; outcome: Outcome }
  | { op: 'tick'; ms: number }
  | { op: 'purge'; queue: string }
  | { op: 'release'; group: string; queue: string }
  | { op: 'retry'; queue: string; from: string | null; limit: number | null }
  | { op: 'delete'; queue: string };

export const DEFAULT_QUEUE = 'q';
export const DEFAULT_DEAD_LETTER_QUEUE = 'DLQ';

/**
 * The selectors of the model: `|`-separated terms, each a colour (the message has it) or `retry` (the
 * message was delivered before: delivery-count above 0, what JMSXDeliveryCount > 1 reads). Deterministic
 * in the message's bytes and delivery-count, as real selectors are.
 */
export function selectorMatches(selector: string, color: string | null, deliveryCount: number): boolean {
  return selector.split('|').some((term) => (term === 'retry' ? deliveryCount > 0 : term === color));
}

/** A test message's body: its label, and its colour after `#`. */
export function bodyOf(label: string, color: string | null): Buffer {
  return Buffer.from(color === null ? label : `${label}#${color}`);
}

export function labelOfBody(body: unknown): string {
  return Buffer.from(body as Uint8Array).toString().split('#')[0]!;
}

export function colorOfBody(body: unknown): string | null {
  return Buffer.from(body as Uint8Array).toString().split('#')[1] ?? null;
}

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
        priority: option('prio') === undefined ? null : Number(option('prio')),
        color: option('color') ?? null,
        delayMs: option('delay') === undefined ? null : Number(option('delay')),
      };
    case 'attach':
      return {
        op,
        consumer: words[0] ?? fail(),
        queue: option('queue') ?? DEFAULT_QUEUE,
        priority: Number(option('priority') ?? 0),
        exclusive: flags.has('exclusive'),
        presettled: flags.has('presettled'),
        selector: option('selector') ?? null,
        browse: flags.has('browse'),
      };
    case 'detach':
      return { op, consumer: words[0] ?? fail() };
    case 'credit':
      return { op, consumer: words[0] ?? fail(), credit: Number(words[1] ?? fail()), drain: flags.has('drain') };
    case 'settle':
      return { op, consumer: words[0] ?? fail(), label: words[1] ?? fail(), outcome: parseOutcome(words[2] ?? fail()) };
    case 'tick':
      return { op, ms: Number(words[0] ?? fail()) };
    case 'purge':
      return { op, queue: option('queue') ?? DEFAULT_QUEUE };
    case 'release':
      return { op, group: words[0] ?? fail(), queue: option('queue') ?? DEFAULT_QUEUE };
    case 'retry':
      return {
        op,
        queue: option('queue') ?? DEFAULT_DEAD_LETTER_QUEUE,
        from: option('from') ?? null,
        limit: option('limit') === undefined ? null : Number(option('limit')),
      };
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
        step.priority === null ? '' : `prio=${step.priority}`,
        step.color === null ? '' : `color=${step.color}`,
        step.delayMs === null ? '' : `delay=${step.delayMs}`,
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
        step.selector === null ? '' : `selector=${step.selector}`,
        step.browse ? 'browse' : '',
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
    case 'purge':
      return `purge${step.queue === DEFAULT_QUEUE ? '' : ` queue=${step.queue}`}`;
    case 'release':
      return `release ${step.group}${step.queue === DEFAULT_QUEUE ? '' : ` queue=${step.queue}`}`;
    case 'retry':
      return [
        'retry',
        step.queue === DEFAULT_DEAD_LETTER_QUEUE ? '' : `queue=${step.queue}`,
        step.from === null ? '' : `from=${step.from}`,
        step.limit === null ? '' : `limit=${step.limit}`,
      ]
        .filter(Boolean)
        .join(' ');
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
