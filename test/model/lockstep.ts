import { apply } from '../../src/core/apply';
import { createCoreState } from '../../src/core/state';
import { DEFAULT_QUEUE_OPTIONS } from '../../src/config/queue-policies';
import { queuedMessages } from '../../src/core/queued';
import type { Command, CoreState, Effect, MessageFilter, QueueOptions } from '../../src/core/types';
import { InvariantWatch } from './invariants';
import { ReferenceModel, type DispatchOracle, type DispatchStep, type ModelOutcome } from './reference-model';
import { bodyOf, colorOfBody, formatStep, labelOfBody, parseStep, selectorMatches, type Step } from './steps';

export class LockstepFailure extends Error {}

/**
 * Runs a command log through the core and the reference model side by side. After every command it
 * requires the same deliveries (consumer, message, delivery-count, delivery id), the same outcomes, the
 * same queued messages, credit, unsettled deliveries, group owners and states and active exclusive
 * consumers, and the core's invariants (invariants.ts). A failure reports the log as literal lines, ready
 * to be pinned as a scenario (test/core/scenarios.test.ts).
 */
export class Lockstep {
  readonly state: CoreState;
  readonly model: ReferenceModel;
  readonly log: string[] = [];
  /** Every delivery so far, in order. */
  readonly delivered: { consumer: string; label: string; deliveryCount: number }[] = [];
  nowMs = 0;
  private readonly watch: InvariantWatch;

  constructor(readonly options: QueueOptions) {
    this.state = createCoreState(() => options);
    this.model = new ReferenceModel(() => options);
    this.watch = new InvariantWatch(this.state);
  }

  run(input: Step | string): Effect[] {
    const step = typeof input === 'string' ? parseStep(input) : input;
    this.log.push(formatStep(step));
    try {
      return this.apply(step);
    } catch (error) {
      throw new LockstepFailure(`${(error as Error).message}\n${this.describeLog()}`);
    }
  }

  describeLog(): string {
    return `options ${JSON.stringify(this.options)}\nsteps:\n${this.log.map((line) => `  '${line}',`).join('\n')}`;
  }

  /** Labels delivered to `consumer`, in order. */
  labels(consumer: string): string[] {
    return this.delivered.filter((d) => d.consumer === consumer).map((d) => d.label);
  }

  private apply(step: Step): Effect[] {
    if (step.op === 'tick') this.nowMs += step.ms;
    const command = coreCommand(this.state, step, this.nowMs);
    this.watch.before(command);
    const effects = apply(this.state, command, this.nowMs);
    this.watch.after(command, effects);
    const oracle = oracleOf(effects);
    this.model.run(oracle.oracle, this.nowMs, () => this.runOnModel(step, command));
    const leftOver = oracle.remaining();
    if (leftOver.length > 0) throw new Error(`the model does not allow the core's ${JSON.stringify(leftOver)}`);
    same('outcomes', this.model.outcomes, outcomesOf(effects));
    same('state', describeModel(this.model), describeCore(this.state));
    for (const effect of effects) {
      if (effect.type === 'deliver') this.delivered.push({ consumer: effect.consumerId, label: labelOf(effect.message.body), deliveryCount: effect.message.deliveryCount });
    }
    return effects;
  }

  private runOnModel(step: Step, command: Command): void {
    const model = this.model;
    if (command.type !== 'tick') model.releaseDue();
    switch (command.type) {
      case 'enqueue': {
        const send = step as Extract<Step, { op: 'send' }>;
        model.enqueue(command.queue, send.label, {
          groupId: command.meta.groupId,
          closesGroup: command.meta.closesGroup,
          expiresAtMs: command.meta.expiresAtMs,
          deliveryCount: command.meta.deliveryCount,
          priority: send.priority ?? 4,
          color: send.color,
          deliverAtMs: command.meta.deliverAtMs ?? null,
        });
        break;
      }
      case 'attach': {
        const attach = step as Extract<Step, { op: 'attach' }>;
        if (attach.browse) model.attachBrowser(command.consumerId, command.queue, attach.selector);
        else model.attach(command.consumerId, command.queue, command.priority, command.exclusive, command.settleOnSend, attach.selector);
        break;
      }
      case 'detach':
        model.detach(command.consumerId);
        break;
      case 'credit':
        model.credit(command.consumerId, command.credit, command.drain);
        break;
      case 'settle':
        model.settle(command.consumerId, command.deliveryId, command.outcome);
        break;
      case 'tick':
        model.tick();
        break;
      case 'purge':
        model.purge(command.queue);
        break;
      case 'release-group':
        model.releaseGroup(command.queue, command.groupId);
        break;
      case 'retry-dead-letters':
        model.retryDeadLetters(command.queue, command.from, command.limit);
        break;
      case 'delete-queue':
        model.deleteQueue(command.queue);
        break;
      case 'declare':
      case 'recover':
      case 'clock':
        throw new Error(`${command.type} is not part of the model`);
    }
  }
}

/** Runs a literal command log (a pinned scenario) with the queue options given over the defaults. */
export function runSteps(options: Partial<QueueOptions>, steps: readonly string[]): Lockstep {
  const lockstep = new Lockstep({ ...DEFAULT_QUEUE_OPTIONS, ...options });
  for (const step of steps) lockstep.run(step);
  return lockstep;
}

/** The owner of `group` in queue q, or null. */
export function ownerOf(run: Lockstep, group: string): string | null {
  return run.state.queues.get('q')!.groups.get(group)?.owner?.id ?? null;
}

/** The core command for a step; a settle finds the consumer's unsettled delivery by its label. */
export function coreCommand(state: CoreState, step: Step, nowMs: number): Command {
  switch (step.op) {
    case 'send':
      return {
        type: 'enqueue',
        queue: step.queue,
        meta: {
          groupId: step.group,
          closesGroup: step.closes,
          expiresAtMs: step.ttlMs === null ? null : nowMs + step.ttlMs,
          deliveryCount: 0,
          durable: false,
          ...(step.priority === null ? {} : { priority: step.priority }),
          deliverAtMs: step.delayMs === null ? null : nowMs + step.delayMs,
        },
        body: bodyOf(step.label, step.color),
      };
    case 'attach':
      return {
        type: 'attach',
        consumerId: step.consumer,
        queue: step.queue,
        priority: step.priority,
        exclusive: step.exclusive,
        settleOnSend: step.presettled,
        filter: step.selector === null ? null : modelFilter(step.selector),
        browse: step.browse,
      };
    case 'detach':
      return { type: 'detach', consumerId: step.consumer };
    case 'credit':
      return { type: 'credit', consumerId: step.consumer, credit: step.credit, drain: step.drain };
    case 'settle': {
      const consumer = state.consumers.get(step.consumer);
      const delivery = [...(consumer?.unsettled.values() ?? [])].find((d) => labelOf(d.message.body) === step.label);
      if (!delivery) throw new Error(`${step.consumer} holds no unsettled ${step.label}`);
      return { type: 'settle', consumerId: step.consumer, deliveryId: delivery.id, outcome: step.outcome };
    }
    case 'tick':
      return { type: 'tick' };
    case 'purge':
      return { type: 'purge', queue: step.queue };
    case 'release':
      return { type: 'release-group', queue: step.queue, groupId: step.group };
    case 'retry':
      return { type: 'retry-dead-letters', queue: step.queue, from: step.from, limit: step.limit };
    case 'delete':
      return { type: 'delete-queue', queue: step.queue };
  }
}

/** The core's filter for a model selector: reads the colour from the bytes, as a real selector reads properties. */
export function modelFilter(selector: string): MessageFilter {
  return { key: selector, matches: (message) => selectorMatches(selector, colorOfBody(message.body), message.deliveryCount) };
}

/** The labels of the messages `consumer` holds unsettled, in delivery order. */
export function unsettledLabels(state: CoreState, consumer: string): string[] {
  return [...(state.consumers.get(consumer)?.unsettled.values() ?? [])].map((d) => labelOf(d.message.body));
}

export function labelOf(body: unknown): string {
  return labelOfBody(body);
}

/** The core's dispatch steps per queue, in the order they happened, handed to the model one by one. */
function oracleOf(effects: readonly Effect[]): { oracle: DispatchOracle; remaining: () => DispatchStep[] } {
  const steps = new Map<string, DispatchStep[]>();
  const add = (queue: string, step: DispatchStep) => {
    if (!steps.has(queue)) steps.set(queue, []);
    steps.get(queue)!.push(step);
  };
  for (const effect of effects) {
    if (effect.type === 'deliver') {
      add(effect.queue, {
        kind: 'deliver',
        messageId: effect.message.id,
        consumerId: effect.consumerId,
        deliveryId: effect.deliveryId,
        deliveryCount: effect.message.deliveryCount,
        settled: effect.settled,
      });
    }
    if (effect.type === 'removed' && effect.reason === 'expired') add(effect.queue, { kind: 'expire', messageId: effect.message.id });
  }
  return {
    oracle: {
      peek: (queue) => steps.get(queue)?.[0],
      take: (queue) => void steps.get(queue)!.shift(),
    },
    remaining: () => [...steps.values()].flat(),
  };
}

function outcomesOf(effects: readonly Effect[]): ModelOutcome[] {
  const out: ModelOutcome[] = [];
  for (const effect of effects) {
    switch (effect.type) {
      case 'removed':
        if (effect.reason !== 'expired') out.push({ type: 'removed', messageId: effect.message.id, reason: effect.reason });
        break;
      case 'dead-lettered':
        out.push({ type: 'dead-lettered', messageId: effect.message.id, reason: effect.reason });
        break;
      case 'retried':
        out.push({ type: 'retried', messageId: effect.message.id });
        break;
      case 'delivery-count':
        out.push({ type: 'delivery-count', messageId: effect.message.id, deliveryCount: effect.message.deliveryCount });
        break;
      case 'drained':
        out.push({ type: 'drained', consumerId: effect.consumerId });
        break;
      case 'exclusive-active':
        out.push({ type: 'exclusive-active', queue: effect.queue, consumerId: effect.consumerId });
        break;
      default:
        break;
    }
  }
  return out;
}

/** What lockstep compares after every command, read the same way from the core and from the model. */
interface QueueDescription {
  name: string;
  /** [message id, delivery-count, queue it was dead-lettered from] of every queued message. */
  queued: [number, number, string | null][];
  /** [message id, due time] of every message scheduled for the queue. */
  scheduled: [number, number][];
  /** [browser, credit] of every browser of the queue. */
  browsers: [string, number][];
  /** [consumer, credit, [delivery id, message id] of every unsettled delivery]. */
  consumers: [string, number, [number, number][]][];
  /** [group, state, owner, move target still attached, closing position]. */
  groups: [string, string, string | null, string | null, number | null][];
  active: string | null;
  rotationCursor: number;
}

interface GroupFacts {
  readonly id: string;
  readonly state: string;
  readonly owner: { readonly id: string } | null;
  readonly moveTo: { readonly id: string; readonly attached: boolean } | null;
  readonly closedAtSeq: number | null;
}

function describeQueue(
  name: string,
  queued: [number, number, string | null][],
  scheduled: [number, number][],
  browsers: [string, number][],
  consumers: [string, number, [number, number][]][],
  groups: Iterable<GroupFacts>,
  active: string | null,
  rotationCursor: number,
): QueueDescription {
  return {
    name,
    queued: queued.sort((a, b) => a[0] - b[0]),
    scheduled: scheduled.sort((a, b) => a[0] - b[0]),
    browsers: browsers.sort(byFirst),
    consumers: consumers.sort(byFirst),
    groups: [...groups]
      .map((g): [string, string, string | null, string | null, number | null] => [
        g.id,
        g.state,
        g.owner?.id ?? null,
        g.moveTo !== null && g.moveTo.attached ? g.moveTo.id : null,
        g.closedAtSeq,
      ])
      .sort(byFirst),
    active,
    rotationCursor,
  };
}

function describeCore(state: CoreState): QueueDescription[] {
  return [...state.queues.values()]
    .map((queue) =>
      describeQueue(
        queue.name,
        queuedMessages(queue).map((m) => [m.id, m.deliveryCount, m.deadLetteredFrom]),
        [...state.scheduled].filter((s) => s.queue === queue).map((s) => [s.message.id, s.message.deliverAtMs!]),
        [...state.browsers.values()].filter((b) => b.queue === queue).map((b) => [b.id, b.credit]),
        queue.consumers.map((c) => [c.id, c.credit, [...c.unsettled.values()].map((d) => [d.id, d.message.id])]),
        queue.groups.values(),
        queue.activeExclusive?.id ?? null,
        queue.rotationCursor,
      ),
    )
    .sort((a, b) => a.name.localeCompare(b.name));
}

function describeModel(model: ReferenceModel): QueueDescription[] {
  return [...model.queues.values()]
    .map((queue) =>
      describeQueue(
        queue.name,
        queue.messages.map((m) => [m.id, m.deliveryCount, m.origin]),
        model.scheduled.filter((s) => s.queue === queue.name).map((s) => [s.message.id, s.dueMs]),
        [...model.browsers.values()].filter((b) => b.queue === queue.name).map((b) => [b.id, b.credit]),
        model.consumersOf(queue).map((c) => [c.id, c.credit, c.deliveries.map((d) => [d.id, d.message.id])]),
        queue.groups.values(),
        queue.active?.id ?? null,
        queue.rotationCursor,
      ),
    )
    .sort((a, b) => a.name.localeCompare(b.name));
}

function byFirst<T extends [string, ...unknown[]]>(a: T, b: T): number {
  return a[0].localeCompare(b[0]);
}

function same(what: string, model: unknown, core: unknown): void {
  const m = JSON.stringify(model);
  const c = JSON.stringify(core);
  if (m !== c) throw new Error(`${what} differs\n  model: ${m}\n  core:  ${c}`);
}
