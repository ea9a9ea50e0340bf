import type { Outcome, QueueOptions } from '../../src/core/types';

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
 */

export interface ModelMessage {
  readonly id: number;
  readonly seq: number;
  readonly label: string;
  readonly groupId: string | null;
  readonly closesGroup: boolean;
  readonly expiresAtMs: number | null;
  deliveryCount: number;
  /** Consumers that answered modified{undeliverable-here}. */
  readonly refusedBy: string[];
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
  readonly priority: number;
  readonly exclusive: boolean;
  readonly settleOnSend: boolean;
  readonly attachOrder: number;
  attached: boolean;
  credit: number;
  /** Unsettled, in delivery order. */
  deliveries: ModelDelivery[];
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
  /** autoDelete: since when ticks have seen the queue without consumers and messages; null while used. */
  unusedSinceMs: number | null;
}

/** What the model reports besides deliveries, to be compared with the core's effects. */
export type ModelOutcome =
  | { type: 'removed'; messageId: number; reason: 'accepted' | 'dead-letter-loop' }
  | { type: 'dead-lettered'; messageId: number; reason: 'rejected' | 'max-delivery-attempts' }
  | { type: 'delivery-count'; messageId: number; deliveryCount: number }
  | { type: 'drained'; consumerId: string }
  | { type: 'exclusive-active'; queue: string; consumerId: string | null }
  | { type: 'queue-deleted'; queue: string; reason: 'requested' | 'unused'; consumers: string[]; messageIds: number[] };

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

export class ReferenceModel {
  readonly queues = new Map<string, ModelQueue>();
  readonly consumers = new Map<string, ModelConsumer>();
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

  enqueue(queueName: string, label: string, meta: { groupId: string | null; closesGroup: boolean; expiresAtMs: number | null; deliveryCount: number }): void {
    const queue = this.queue(queueName);
    const message: ModelMessage = { id: this.nextMessageId++, seq: queue.nextSeq++, label, ...meta, refusedBy: [] };
    this.putBack(queue, message);
    this.dispatch(queue);
  }

  attach(id: string, queueName: string, priority: number, exclusive: boolean, settleOnSend: boolean): void {
    const queue = this.queue(queueName);
    const consumer: ModelConsumer = {
      id,
      queue: queueName,
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

  /** Detach, connection loss and idle time-out: unsettled deliveries return first (count + 1). */
  detach(id: string): void {
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

  tick(): void {
    for (const queue of this.queues.values()) {
      const timeoutMs = queue.options.groupIdleTimeoutMs;
      for (const group of [...queue.groups.values()]) {
        if (timeoutMs !== null && group.state === 'idle' && group.idleSinceMs + timeoutMs <= this.nowMs) this.forget(queue, group);
      }
      this.dispatch(queue);
    }
    // README "Queue lifetime", autoDelete: unused (no consumer, nothing queued or in flight) at every tick
    // for autoDeleteDelayMs, counted from the first tick that saw it unused.
    for (const queue of [...this.queues.values()]) {
      if (!queue.options.autoDelete) continue;
      const holders = [...this.consumers.values()].filter((c) => c.queue === queue.name);
      const unused = holders.length === 0 && queue.messages.length === 0;
      if (!unused) queue.unusedSinceMs = null;
      else if (queue.unusedSinceMs === null) queue.unusedSinceMs = this.nowMs;
      if (queue.unusedSinceMs !== null && this.nowMs - queue.unusedSinceMs >= queue.options.autoDeleteDelayMs) this.remove(queue, 'unused');
    }
  }

  /** README "Queue lifetime": the queue goes with its messages, queued and in flight, and its consumers. */
  deleteQueue(name: string): void {
    const queue = this.queues.get(name);
    if (queue) this.remove(queue, 'requested');
  }

  private remove(queue: ModelQueue, reason: 'requested' | 'unused'): void {
    const consumers = [...this.consumers.values()].filter((c) => c.queue === queue.name);
    const messages = [...queue.messages, ...consumers.flatMap((c) => c.deliveries.map((d) => d.message))];
    for (const consumer of consumers) this.consumers.delete(consumer.id);
    this.queues.delete(queue.name);
    this.outcomes.push({
      type: 'queue-deleted',
      queue: queue.name,
      reason,
      consumers: consumers.map((c) => c.id).sort(),
      messageIds: messages.map((m) => m.id).sort((a, b) => a - b),
    });
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
    const live = this.sorted(queue.messages.filter((m) => !this.expired(m)));
    if (this.exclusiveMode(queue)) {
      // One exclusive consumer takes everything in queue order; a better one waits for it to quiesce.
      const active = queue.active;
      if (active === null || active !== this.bestExclusive(queue) || active.credit === 0) return [];
      const next = live.find((m) => !m.refusedBy.includes(active.id));
      return next ? [{ message: next, consumer: active }] : [];
    }
    const out: { message: ModelMessage; consumer: ModelConsumer }[] = [];
    const groupsSeen = new Set<string>();
    let ungroupedFound = false;
    for (const message of live) {
      if (message.groupId === null) {
        // Ungrouped messages go in queue order; one that every consumer with credit refused waits.
        const consumer = ungroupedFound ? null : this.pick(queue, message, false);
        if (consumer) out.push({ message, consumer });
        if (consumer) ungroupedFound = true;
      } else if (!groupsSeen.has(message.groupId)) {
        // Only a group's first live message may go, and only where the group's rules allow.
        groupsSeen.add(message.groupId);
        const consumer = this.groupTarget(queue, queue.groups.get(message.groupId)!, message);
        if (consumer) out.push({ message, consumer });
      }
    }
    return out;
  }

  /** README "Message groups": who may receive the group's next message now, if anyone. */
  private groupTarget(queue: ModelQueue, group: ModelGroup, next: ModelMessage): ModelConsumer | null {
    const inFlight = this.inFlightOf(queue, group.id).length;
    if (group.state === 'moving') return null;
    const limit = queue.options.maxInFlightPerGroup;
    if (limit !== null && inFlight >= limit) return null;
    if (group.state === 'closing' && next.seq > group.closedAtSeq!) return null;
    const owner = group.owner;
    if (owner !== null && !next.refusedBy.includes(owner.id)) return owner.credit > 0 ? owner : null;
    // The owner refused it: someone else gets the group, once the owner holds nothing of it.
    if (owner !== null && inFlight > 0) return null;
    return this.pick(queue, next, true);
  }

  /**
   * Consumers with credit that did not refuse the message; the highest priority among them; the fewest
   * groups owned (for a group's first message); ties rotate in attach order after the last pick.
   */
  private pick(queue: ModelQueue, message: ModelMessage, fewestGroups: boolean): ModelConsumer | null {
    const able = this.consumersOf(queue).filter((c) => c.credit > 0 && !message.refusedBy.includes(c.id));
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
    this.enqueue(queue.options.deadLetterQueue, message.label, {
      groupId: message.groupId,
      closesGroup: message.closesGroup,
      expiresAtMs: message.expiresAtMs,
      deliveryCount: message.deliveryCount,
    });
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
    return [...this.consumers.values()]
      .filter((c) => c.queue === queue.name)
      .flatMap((c) => c.deliveries)
      .filter((d) => d.ofGroup && d.message.groupId === groupId);
  }

  expired(message: ModelMessage): boolean {
    return message.expiresAtMs !== null && message.expiresAtMs <= this.nowMs;
  }

  private sorted(messages: ModelMessage[]): ModelMessage[] {
    return [...messages].sort((a, b) => a.seq - b.seq);
  }
}
