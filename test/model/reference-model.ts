import type { Outcome, QueueOptions } from '../../src/core/types';
import { selectorMatches } from './steps';

/**
 * The reference model: README "Semantics you can rely on" as a deliberately naive program. Plain lists,
 * linear scans, no indexes, no wake lists, no counters it could get wrong: every question ("what is in
 * flight for this group", "who may take this message now") is answered by looking at everything again.
 * It shares no code with src/core. test/model/lockstep.ts runs it beside the core and requires the same
 * deliveries, owners, states and outcomes after every command.
 *
 * One thing the semantics leave open is the order in which dispatch serves messages of *different*
 * groups when several could go at once (README: order is kept within a group and among ungrouped
 * messages, not across groups). There the model does not choose: it asks the `DispatchOracle` (the
 * core's actual choice) and checks that the choice is one it allows. Likewise the core reports when it
 * removes an expired message; the model checks that the message had expired and was queued. Everything
 * else the model decides on its own.
 *
 * Priority, selectors, browsing and delayed delivery (README "Priority", "Selectors", "Browsing",
 * "Delayed delivery"), naively: a message's level is decided when it enters its queue, as its priority
 * lowered to the lowest level of its group's messages queued or in flight; the queue's order is level,
 * then position; a consumer refuses a message it refused with undeliverable-here or whose colour its
 * selector does not match; a browser gets a sorted copy of the queue at attach and shows what is still
 * queued when its credit reaches it; a scheduled message enters its queue before any command at or
 * after its time, the earliest first.
 */

export interface ModelMessage {
  readonly id: number;
  seq: number;
  readonly label: string;
  readonly priority: number;
  level: number;
  readonly color: string | null;
  readonly groupId: string | null;
  readonly closesGroup: boolean;
  readonly expiresAtMs: number | null;
  deliveryCount: number;
  /** Consumers that answered modified{undeliverable-here}. */
  readonly refusedBy: string[];
  /** In a dead-letter queue: the queue it was dead-lettered from. */
  readonly origin: string | null;
}

export interface ModelDelivery {
  readonly id: number;
  readonly message: ModelMessage;
  /** Made while groups applied (shared mode), so it belongs to the group's sequence. */
  readonly ofGroup: boolean;
}

export interface ModelConsumer {
  readonly id: string;
  readonly queue: string;
  readonly selector: string | null;
  readonly priority: number;
  readonly exclusive: boolean;
  readonly settleOnSend: boolean;
  readonly attachOrder: number;
  attached: boolean;
  credit: number;
  /** Unsettled, in delivery order. */
  deliveries: ModelDelivery[];
}

export interface ModelBrowser {
  readonly id: string;
  readonly queue: string;
  readonly selector: string | null;
  credit: number;
  /** The queue as it was at attach, in queue order, not yet shown or skipped. */
  view: ModelMessage[];
}

export interface ModelScheduled {
  readonly queue: string;
  readonly message: ModelMessage;
  readonly dueMs: number;
}

export type ModelGroupState = 'unowned' | 'owned' | 'idle' | 'moving' | 'closing';

export interface ModelGroup {
  readonly id: string;
  state: ModelGroupState;
  owner: ModelConsumer | null;
  moveTo: ModelConsumer | null;
  closedAtSeq: number | null;
  /** When the owner got the group (counter): rebalance gives away the oldest first. */
  ownedSince: number;
  /** When the group became idle (counter and clock): maxGroups forgets the oldest first. */
  idleOrder: number;
  idleSinceMs: number;
}

export interface ModelQueue {
  readonly name: string;
  readonly options: QueueOptions;
  nextSeq: number;
  messages: ModelMessage[];
  readonly groups: Map<string, ModelGroup>;
  rotationCursor: number;
  active: ModelConsumer | null;
  /** autoDelete: since when ticks have seen the queue unused; null while used. */
  unusedSinceMs: number | null;
}

/** What the model reports besides deliveries, to be compared with the core's effects. */
export type ModelOutcome =
  | { type: 'removed'; messageId: number; reason: 'accepted' | 'dead-letter-loop' | 'purged' | 'queue-deleted' }
  | { type: 'retried'; messageId: number }
  | { type: 'dead-lettered'; messageId: number; reason: 'rejected' | 'max-delivery-attempts' }
  | { type: 'delivery-count'; messageId: number; deliveryCount: number }
  | { type: 'drained'; consumerId: string }
  | { type: 'exclusive-active'; queue: string; consumerId: string | null };

/** The implementation's next dispatch step in a queue, as it happened. */
export type DispatchStep =
  | { kind: 'deliver'; messageId: number; consumerId: string; deliveryId: number; deliveryCount: number; settled: boolean }
  | { kind: 'expire'; messageId: number };

export interface DispatchOracle {
  /** The next step the implementation took in `queue` during this command, without consuming it. */
  peek(queue: string): DispatchStep | undefined;
  take(queue: string): void;
}

export class ModelMismatch extends Error {}

export interface ModelMessageMeta {
  readonly groupId: string | null;
  readonly closesGroup: boolean;
  readonly expiresAtMs: number | null;
  readonly deliveryCount: number;
  readonly priority: number;
  readonly color: string | null;
  readonly deliverAtMs: number | null;
}

export class ReferenceModel {
  readonly queues = new Map<string, ModelQueue>();
  readonly consumers = new Map<string, ModelConsumer>();
  readonly browsers = new Map<string, ModelBrowser>();
  /** Messages waiting for their delivery time. */
  scheduled: ModelScheduled[] = [];
  outcomes: ModelOutcome[] = [];
  nowMs = 0;
  private nextMessageId = 1;
  private nextDeliveryId = 1;
  private nextAttachOrder = 1;
  private counter = 0;
  private oracle: DispatchOracle | null = null;

  constructor(private readonly optionsFor: (queue: string) => QueueOptions) {}

  /** Runs one command; `oracle` tells the order the implementation chose (see the file comment). */
  run(oracle: DispatchOracle, nowMs: number, command: () => void): void {
    this.oracle = oracle;
    this.nowMs = nowMs;
    this.outcomes = [];
    command();
    this.oracle = null;
  }

  // ---- Commands ----

  /** A message sent (or dead-lettered into the queue, `origin` naming where from); one with a delivery time to come waits. */
  enqueue(queueName: string, label: string, meta: ModelMessageMeta, origin: string | null = null): void {
    const queue = this.queue(queueName);
    const { deliverAtMs, ...rest } = meta;
    const message: ModelMessage = { id: this.nextMessageId++, seq: 0, level: 0, label, ...rest, refusedBy: [], origin };
    if (deliverAtMs !== null && deliverAtMs > this.nowMs) {
      this.scheduled.push({ queue: queueName, message, dueMs: deliverAtMs });
      return;
    }
    this.enter(queue, message);
  }

  attach(id: string, queueName: string, priority: number, exclusive: boolean, settleOnSend: boolean, selector: string | null): void {
    const queue = this.queue(queueName);
    const consumer: ModelConsumer = {
      id,
      queue: queueName,
      selector,
      priority,
      exclusive: exclusive || queue.options.exclusive,
      settleOnSend,
      attachOrder: this.nextAttachOrder++,
      attached: true,
      credit: 0,
      deliveries: [],
    };
    this.consumers.set(id, consumer);
    this.updateExclusive(queue);
    if (!this.exclusiveMode(queue) && queue.options.groupRebalance) this.rebalance(queue, consumer);
    this.dispatch(queue);
  }

  attachBrowser(id: string, queueName: string, selector: string | null): void {
    const queue = this.queue(queueName);
    this.browsers.set(id, { id, queue: queueName, selector, credit: 0, view: this.inQueueOrder(queue.messages) });
  }

  /** Detach, connection loss and idle time-out: unsettled deliveries return first (count + 1). */
  detach(id: string): void {
    if (this.browsers.delete(id)) return;
    const consumer = this.consumers.get(id)!;
    const queue = this.queue(consumer.queue);
    consumer.attached = false;
    // What it owns with nothing in flight is released at once; the rest as its deliveries come back,
    // one by one in delivery order (a group moving away from it moves when its last one is back).
    this.settleGroups(queue);
    while (consumer.deliveries.length > 0) {
      const delivery = consumer.deliveries.shift()!;
      this.failedAttempt(queue, delivery.message);
      this.settleGroups(queue);
    }
    this.consumers.delete(id);
    this.settleGroups(queue);
    this.updateExclusive(queue);
    this.dispatch(queue);
  }

  credit(id: string, credit: number, drain: boolean): void {
    const browser = this.browsers.get(id);
    if (browser !== undefined) {
      this.browse(browser, credit, drain);
      return;
    }
    const consumer = this.consumers.get(id)!;
    consumer.credit = Math.max(0, credit);
    if (consumer.credit > 0) this.dispatch(this.queue(consumer.queue));
    if (drain) {
      consumer.credit = 0;
      this.outcomes.push({ type: 'drained', consumerId: id });
    }
  }

  settle(id: string, deliveryId: number, outcome: Outcome): void {
    const consumer = this.consumers.get(id)!;
    const queue = this.queue(consumer.queue);
    const delivery = consumer.deliveries.find((d) => d.id === deliveryId)!;
    consumer.deliveries = consumer.deliveries.filter((d) => d !== delivery);
    const message = delivery.message;
    if (outcome.type === 'accepted') this.outcomes.push({ type: 'removed', messageId: message.id, reason: 'accepted' });
    if (outcome.type === 'released') this.putBack(queue, message);
    if (outcome.type === 'rejected') this.deadLetter(queue, message, 'rejected');
    if (outcome.type === 'modified') {
      if (outcome.undeliverableHere) message.refusedBy.push(id);
      if (outcome.deliveryFailed) this.failedAttempt(queue, message);
      else this.putBack(queue, message);
    }
    this.settleGroups(queue);
    if (queue.active === consumer) this.updateExclusive(queue);
    this.dispatch(queue);
  }

  /** Idle groups past groupIdleTimeoutMs are forgotten; then scheduled messages due by now enter; then dispatch. */
  tick(): void {
    for (const queue of this.queues.values()) {
      const timeoutMs = queue.options.groupIdleTimeoutMs;
      for (const group of [...queue.groups.values()]) {
        if (timeoutMs !== null && group.state === 'idle' && group.idleSinceMs + timeoutMs <= this.nowMs) this.forget(queue, group);
      }
    }
    this.releaseDue();
    for (const queue of this.queues.values()) this.dispatch(queue);
    // README "Queue lifetime", autoDelete: no consumer, no browser, no message (queued, in flight or
    // scheduled) at every tick for autoDeleteDelayMs, counted from the first tick that saw it so.
    for (const queue of [...this.queues.values()]) {
      if (!queue.options.autoDelete) continue;
      const unused =
        this.consumersOf(queue).length === 0 &&
        [...this.browsers.values()].every((browser) => browser.queue !== queue.name) &&
        queue.messages.length === 0 &&
        this.scheduled.every((scheduled) => scheduled.queue !== queue.name);
      if (!unused) queue.unusedSinceMs = null;
      else if (queue.unusedSinceMs === null) queue.unusedSinceMs = this.nowMs;
      if (queue.unusedSinceMs !== null && this.nowMs - queue.unusedSinceMs >= queue.options.autoDeleteDelayMs) this.deleteQueue(queue.name);
    }
  }

  // ---- Scheduled messages and browsers ----

  /**
   * Before every command (within a tick, once idle groups are forgotten): messages due by now enter their
   * queues, the earliest (then the first sent) first; then dispatch runs in each queue that got any.
   */
  releaseDue(): void {
    const due = this.scheduled.filter((s) => s.dueMs <= this.nowMs).sort((a, b) => a.dueMs - b.dueMs || a.message.id - b.message.id);
    this.scheduled = this.scheduled.filter((s) => !due.includes(s));
    for (const { queue, message } of due) this.place(this.queue(queue), message);
    for (const name of new Set(due.map((s) => s.queue))) this.dispatch(this.queue(name));
  }

  /** The message takes its position and level, and dispatch runs, as for a message just sent. */
  private enter(queue: ModelQueue, message: ModelMessage): void {
    this.place(queue, message);
    this.dispatch(queue);
  }

  private place(queue: ModelQueue, message: ModelMessage): void {
    message.seq = queue.nextSeq++;
    message.level = message.priority;
    if (message.groupId !== null) {
      const live = [...queue.messages, ...this.deliveriesIn(queue).map((d) => d.message)].filter((m) => m.groupId === message.groupId);
      message.level = Math.min(message.priority, ...live.map((m) => m.level));
    }
    this.putBack(queue, message);
  }

  /** Shows, in the order of its copy, what is still queued, unexpired and selected, up to the credit. */
  private browse(browser: ModelBrowser, credit: number, drain: boolean): void {
    const queue = this.queue(browser.queue);
    const oracle = this.oracle!;
    browser.credit = Math.max(0, credit);
    while (browser.credit > 0 && browser.view.length > 0) {
      const message = browser.view.shift()!;
      if (!queue.messages.includes(message) || this.expired(message)) continue;
      if (browser.selector !== null && !selectorMatches(browser.selector, message.color, message.deliveryCount)) continue;
      const step = oracle.peek(queue.name);
      const expected = { kind: 'deliver', messageId: message.id, consumerId: browser.id, deliveryId: this.nextDeliveryId, deliveryCount: message.deliveryCount, settled: true };
      if (JSON.stringify(step) !== JSON.stringify(expected)) {
        throw new ModelMismatch(`browser ${browser.id}: model shows ${message.label} ${JSON.stringify(expected)}, core ${JSON.stringify(step)}`);
      }
      oracle.take(queue.name);
      this.nextDeliveryId++;
      browser.credit--;
    }
    if (drain) {
      browser.credit = 0;
      this.outcomes.push({ type: 'drained', consumerId: browser.id });
    }
  }

  // ---- Operator commands (on queues that exist; they create none) ----

  /** Every queued message goes; deliveries in flight stay with their consumers. */
  purge(queueName: string): void {
    const queue = this.queues.get(queueName);
    if (!queue) return;
    // One by one in queue order: groups become idle (and maxGroups forgets) in that order.
    for (const message of this.sorted(queue.messages)) {
      queue.messages = queue.messages.filter((m) => m !== message);
      this.outcomes.push({ type: 'removed', messageId: message.id, reason: 'purged' });
      this.settleGroups(queue);
    }
    this.dispatch(queue);
  }

  /** The group leaves its owner once nothing of it is in flight (a move to no one); a closing group already does. */
  releaseGroup(queueName: string, groupId: string): void {
    const queue = this.queues.get(queueName);
    if (!queue) return;
    const group = queue.groups.get(groupId);
    if (group !== undefined && group.owner !== null && group.state !== 'closing') {
      group.state = 'moving';
      group.moveTo = null;
    }
    this.settleGroups(queue);
    this.dispatch(queue);
  }

  /** Dead letters of known origin (from `from`, at most `limit`) go back to the end of their queue with delivery-count 0. */
  retryDeadLetters(queueName: string, from: string | null, limit: number | null): void {
    const queue = this.queues.get(queueName);
    if (!queue) return;
    const chosen = this.sorted(queue.messages)
      .filter((m) => m.origin !== null && (from === null || m.origin === from))
      .slice(0, limit ?? Infinity);
    for (const message of chosen) {
      queue.messages = queue.messages.filter((m) => m !== message);
      this.outcomes.push({ type: 'retried', messageId: message.id });
      this.settleGroups(queue);
      this.enqueue(message.origin!, message.label, {
        groupId: message.groupId,
        closesGroup: message.closesGroup,
        expiresAtMs: message.expiresAtMs,
        deliveryCount: 0,
        priority: message.priority,
        color: message.color,
        deliverAtMs: null,
      });
    }
    this.dispatch(queue);
  }

  /**
   * The queue goes with every message it holds, in position order, then those scheduled for it, in due
   * order; nobody is attached to it.
   */
  deleteQueue(name: string): void {
    const queue = this.queues.get(name);
    if (!queue) return;
    if (this.consumersOf(queue).length > 0) throw new ModelMismatch(`delete ${name} while consumers are attached`);
    const scheduled = this.scheduled.filter((s) => s.queue === name).sort((a, b) => a.dueMs - b.dueMs || a.message.id - b.message.id);
    this.scheduled = this.scheduled.filter((s) => s.queue !== name);
    for (const message of [...this.sorted(queue.messages), ...scheduled.map((s) => s.message)]) {
      this.outcomes.push({ type: 'removed', messageId: message.id, reason: 'queue-deleted' });
    }
    this.queues.delete(name);
  }

  // ---- Dispatch ----

  /** Hands out messages until nothing may go; checks every step the implementation took. */
  private dispatch(queue: ModelQueue): void {
    const oracle = this.oracle!;
    for (;;) {
      const step = oracle.peek(queue.name);
      const expiring = step?.kind === 'expire' ? queue.messages.find((m) => m.id === step.messageId) : undefined;
      if (expiring !== undefined) {
        if (!this.expired(expiring)) throw new ModelMismatch(`core dropped message ${expiring.label} as expired, which it is not`);
        oracle.take(queue.name);
        queue.messages = queue.messages.filter((m) => m !== expiring);
        this.settleGroups(queue);
        continue;
      }
      // (A step about a message not queued yet belongs to a later dispatch of this queue in this command.)
      const allowed = this.deliverable(queue);
      if (allowed.length === 0) return;
      if (step === undefined || step.kind === 'expire') {
        throw new ModelMismatch(`core stopped, but ${allowed.map((a) => `${a.message.label} -> ${a.consumer.id}`).join(', ')} may go`);
      }
      const choice = allowed.find((a) => a.message.id === step.messageId);
      if (!choice) {
        throw new ModelMismatch(
          `core delivered message ${step.messageId} -> ${step.consumerId}; the model allows only ${allowed.map((a) => `${a.message.label}(${a.message.id}) -> ${a.consumer.id}`).join(', ')}`,
        );
      }
      const expected = { consumerId: choice.consumer.id, deliveryId: this.nextDeliveryId, deliveryCount: choice.message.deliveryCount, settled: choice.consumer.settleOnSend };
      const actual = { consumerId: step.consumerId, deliveryId: step.deliveryId, deliveryCount: step.deliveryCount, settled: step.settled };
      if (JSON.stringify(expected) !== JSON.stringify(actual)) {
        throw new ModelMismatch(`delivery of ${choice.message.label}: model ${JSON.stringify(expected)}, core ${JSON.stringify(actual)}`);
      }
      oracle.take(queue.name);
      this.deliver(queue, choice.message, choice.consumer);
    }
  }

  /** Every (message, consumer) the rules allow as the next delivery in this queue. */
  deliverable(queue: ModelQueue): { message: ModelMessage; consumer: ModelConsumer }[] {
    const live = this.inQueueOrder(queue.messages.filter((m) => !this.expired(m)));
    if (this.exclusiveMode(queue)) {
      // One exclusive consumer takes everything in queue order; a better one waits for it to quiesce.
      const active = queue.active;
      if (active === null || active !== this.bestExclusive(queue) || active.credit === 0) return [];
      const next = live.find((m) => !this.refuses(active, m));
      return next ? [{ message: next, consumer: active }] : [];
    }
    const out: { message: ModelMessage; consumer: ModelConsumer }[] = [];
    // Ungrouped messages go in queue order; one that no consumer with credit may take waits.
    for (const message of live.filter((m) => m.groupId === null)) {
      const consumer = this.pick(queue, message, false);
      if (consumer) {
        out.push({ message, consumer });
        break;
      }
    }
    // Only a group's first live message (in send order) may go, and only where the group's rules allow.
    for (const group of queue.groups.values()) {
      const next = this.sorted(live.filter((m) => m.groupId === group.id))[0];
      if (next === undefined) continue;
      const consumer = this.groupTarget(queue, group, next);
      if (consumer) out.push({ message: next, consumer });
    }
    return out;
  }

  /** It refused the message (undeliverable-here), or its selector does not match it. */
  refuses(consumer: ModelConsumer, message: ModelMessage): boolean {
    if (message.refusedBy.includes(consumer.id)) return true;
    return consumer.selector !== null && !selectorMatches(consumer.selector, message.color, message.deliveryCount);
  }

  /** README "Message groups": who may receive the group's next message now, if anyone. */
  private groupTarget(queue: ModelQueue, group: ModelGroup, next: ModelMessage): ModelConsumer | null {
    const inFlight = this.inFlightOf(queue, group.id).length;
    if (group.state === 'moving') return null;
    const limit = queue.options.maxInFlightPerGroup;
    if (limit !== null && inFlight >= limit) return null;
    if (group.state === 'closing' && next.seq > group.closedAtSeq!) return null;
    const owner = group.owner;
    if (owner !== null && !this.refuses(owner, next)) return owner.credit > 0 ? owner : null;
    // The owner refused it (or does not select it): someone else gets the group, once the owner holds nothing of it.
    if (owner !== null && inFlight > 0) return null;
    return this.pick(queue, next, true);
  }

  /**
   * Consumers with credit that do not refuse the message; the highest priority among them; the fewest
   * groups owned (for a group's first message); ties rotate in attach order after the last pick.
   */
  private pick(queue: ModelQueue, message: ModelMessage, fewestGroups: boolean): ModelConsumer | null {
    const able = this.consumersOf(queue).filter((c) => c.credit > 0 && !this.refuses(c, message));
    if (able.length === 0) return null;
    const top = Math.max(...able.map((c) => c.priority));
    const level = able.filter((c) => c.priority === top);
    const load = (c: ModelConsumer) => (fewestGroups ? [...queue.groups.values()].filter((g) => g.owner === c).length : 0);
    const least = Math.min(...level.map(load));
    const tied = level.filter((c) => load(c) === least).sort((a, b) => a.attachOrder - b.attachOrder);
    return tied.find((c) => c.attachOrder > queue.rotationCursor) ?? tied[0]!;
  }

  private deliver(queue: ModelQueue, message: ModelMessage, consumer: ModelConsumer): void {
    queue.messages = queue.messages.filter((m) => m !== message);
    consumer.credit--;
    const ofGroup = !this.exclusiveMode(queue) && message.groupId !== null;
    const id = this.nextDeliveryId++;
    if (consumer.settleOnSend) this.outcomes.push({ type: 'removed', messageId: message.id, reason: 'accepted' });
    else consumer.deliveries.push({ id, message, ofGroup });
    if (this.exclusiveMode(queue)) {
      this.settleGroups(queue);
      return;
    }
    if (message.groupId === null) {
      queue.rotationCursor = consumer.attachOrder;
      return;
    }
    const group = queue.groups.get(message.groupId)!;
    if (group.owner !== consumer) {
      queue.rotationCursor = consumer.attachOrder;
      this.setOwner(group, consumer);
      group.state = 'owned';
    }
    // Closing a group (group-sequence 4294967295 / JMSXGroupSeq -1): ownership ends once the owner holds
    // nothing of it; until then later messages wait and returned earlier ones still go to the owner.
    if (message.closesGroup && group.state !== 'closing') {
      group.state = 'closing';
      group.closedAtSeq = message.seq;
    }
    this.settleGroups(queue);
  }

  // ---- Messages coming back, dead-lettering ----

  private putBack(queue: ModelQueue, message: ModelMessage): void {
    queue.messages.push(message);
    if (message.groupId !== null && !queue.groups.has(message.groupId)) {
      queue.groups.set(message.groupId, {
        id: message.groupId,
        state: 'unowned',
        owner: null,
        moveTo: null,
        closedAtSeq: null,
        ownedSince: 0,
        idleOrder: 0,
        idleSinceMs: 0,
      });
    }
    this.settleGroups(queue);
  }

  /** A failed attempt: delivery-count + 1; back in the queue, or dead-lettered once attempts run out. */
  private failedAttempt(queue: ModelQueue, message: ModelMessage): void {
    message.deliveryCount++;
    if (message.deliveryCount >= queue.options.maxDeliveryAttempts) {
      this.deadLetter(queue, message, 'max-delivery-attempts');
      return;
    }
    this.outcomes.push({ type: 'delivery-count', messageId: message.id, deliveryCount: message.deliveryCount });
    this.putBack(queue, message);
  }

  private deadLetter(queue: ModelQueue, message: ModelMessage, reason: 'rejected' | 'max-delivery-attempts'): void {
    if (queue.options.deadLetterQueue === queue.name) {
      this.outcomes.push({ type: 'removed', messageId: message.id, reason: 'dead-letter-loop' });
      return;
    }
    this.outcomes.push({ type: 'dead-lettered', messageId: message.id, reason });
    this.enqueue(
      queue.options.deadLetterQueue,
      message.label,
      {
        groupId: message.groupId,
        closesGroup: message.closesGroup,
        expiresAtMs: message.expiresAtMs,
        deliveryCount: message.deliveryCount,
        priority: message.priority,
        color: message.color,
        deliverAtMs: null,
      },
      queue.name,
    );
  }

  // ---- Group states ----

  /**
   * Brings every group of the queue to the state its facts call for. Moves and closes complete when
   * the owner holds nothing of the group; a group whose owner left has none; a group with nothing
   * queued is forgotten (no owner) or idle (owner).
   */
  private settleGroups(queue: ModelQueue): void {
    for (const group of [...queue.groups.values()]) {
      if (!queue.groups.has(group.id)) continue;
      const inFlight = this.inFlightOf(queue, group.id).length;
      const queued = queue.messages.filter((m) => m.groupId === group.id).length;
      if (inFlight > 0) continue;
      let owner = group.owner;
      if (group.state === 'moving') owner = group.moveTo;
      if (group.state === 'closing') owner = null;
      if (owner !== null && !owner.attached) owner = null;
      group.moveTo = null;
      group.closedAtSeq = null;
      this.setOwner(group, owner);
      if (owner === null && queued === 0) queue.groups.delete(group.id);
      else if (owner === null) group.state = 'unowned';
      else if (queued > 0) group.state = 'owned';
      else if (group.state !== 'idle') this.becomeIdle(queue, group);
    }
  }

  private becomeIdle(queue: ModelQueue, group: ModelGroup): void {
    group.state = 'idle';
    group.idleOrder = this.counter++;
    group.idleSinceMs = this.nowMs;
    const max = queue.options.maxGroups;
    for (;;) {
      const idle = [...queue.groups.values()].filter((g) => g.state === 'idle').sort((a, b) => a.idleOrder - b.idleOrder);
      if (max === null || idle.length <= max) return;
      this.forget(queue, idle[0]!);
    }
  }

  private forget(queue: ModelQueue, group: ModelGroup): void {
    this.setOwner(group, null);
    queue.groups.delete(group.id);
  }

  private setOwner(group: ModelGroup, owner: ModelConsumer | null): void {
    if (group.owner === owner) return;
    group.owner = owner;
    group.ownedSince = this.counter++;
  }

  /** groupRebalance: groups move to the newcomer, from those who own the most, until it has its share. */
  private rebalance(queue: ModelQueue, newcomer: ModelConsumer): void {
    const consumers = this.consumersOf(queue);
    const ownedBy = (c: ModelConsumer) => [...queue.groups.values()].filter((g) => g.owner === c).sort((a, b) => a.ownedSince - b.ownedSince);
    const fairShare = Math.floor(consumers.reduce((n, c) => n + ownedBy(c).length, 0) / consumers.length);
    let wanted = fairShare - ownedBy(newcomer).length;
    const donors = consumers.filter((c) => c !== newcomer).sort((a, b) => ownedBy(b).length - ownedBy(a).length);
    for (const donor of donors) {
      let excess = ownedBy(donor).length - fairShare;
      for (const group of ownedBy(donor)) {
        if (wanted <= 0 || excess <= 0) break;
        if (group.state === 'moving' || group.state === 'closing') continue;
        if (this.inFlightOf(queue, group.id).length === 0) {
          this.setOwner(group, newcomer);
        } else {
          group.state = 'moving';
          group.moveTo = newcomer;
        }
        wanted--;
        excess--;
      }
    }
  }

  // ---- Exclusive consumers ----

  private exclusiveMode(queue: ModelQueue): boolean {
    return this.consumersOf(queue).some((c) => c.exclusive);
  }

  private bestExclusive(queue: ModelQueue): ModelConsumer | null {
    return this.consumersOf(queue).find((c) => c.exclusive) ?? null;
  }

  /** The best exclusive consumer becomes active, but not while the (attached) active one has anything unsettled. */
  private updateExclusive(queue: ModelQueue): void {
    const best = this.bestExclusive(queue);
    const active = queue.active;
    if (best === active) return;
    if (active !== null && active.attached && best !== null && active.deliveries.length > 0) return;
    queue.active = best;
    this.outcomes.push({ type: 'exclusive-active', queue: queue.name, consumerId: best ? best.id : null });
  }

  // ---- Looking things up, the slow way ----

  queue(name: string): ModelQueue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = { name, options: this.optionsFor(name), nextSeq: 1, messages: [], groups: new Map(), rotationCursor: 0, active: null, unusedSinceMs: null };
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Attached consumers of the queue: highest priority first, then earliest attached. */
  consumersOf(queue: ModelQueue): ModelConsumer[] {
    return [...this.consumers.values()].filter((c) => c.attached && c.queue === queue.name).sort((a, b) => b.priority - a.priority || a.attachOrder - b.attachOrder);
  }

  /** Unsettled deliveries of the group's sequence, whoever holds them. */
  inFlightOf(queue: ModelQueue, groupId: string): ModelDelivery[] {
    return this.deliveriesIn(queue).filter((d) => d.ofGroup && d.message.groupId === groupId);
  }

  /** Every unsettled delivery of the queue's messages. */
  private deliveriesIn(queue: ModelQueue): ModelDelivery[] {
    return [...this.consumers.values()].filter((c) => c.queue === queue.name).flatMap((c) => c.deliveries);
  }

  expired(message: ModelMessage): boolean {
    return message.expiresAtMs !== null && message.expiresAtMs <= this.nowMs;
  }

  private sorted(messages: ModelMessage[]): ModelMessage[] {
    return [...messages].sort((a, b) => a.seq - b.seq);
  }

  /** Queue order: the higher level first, then the earlier position. */
  private inQueueOrder(messages: ModelMessage[]): ModelMessage[] {
    return [...messages].sort((a, b) => b.level - a.level || a.seq - b.seq);
  }
}
