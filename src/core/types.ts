import type { BinaryHeap } from './binary-heap';
import type { GroupState, WakeList } from './group-lifecycle';
import type { IdleList } from './idle-list';
import type { OrderedBuffer } from './ordered-buffer';
import type { GroupLevels } from './priority';
import type { PriorityBuffer } from './priority-buffer';
import type { Browser } from './browsing';
import type { MessageSelection, SelectorClass } from './selection';

/** Per-queue options, resolved from the configuration when the queue is first used. */
export interface QueueOptions {
  /** Application property that carries the group id; null means `properties.group-id`. */
  readonly groupKey: string | null;
  /** Idle groups remembered per queue (LRU); null = unbounded. */
  readonly maxGroups: number | null;
  /** An idle group is forgotten after this long; null = never. */
  readonly groupIdleTimeoutMs: number | null;
  readonly groupRebalance: boolean;
  /** Unsettled messages per group; null = unlimited, 1 = strictly sequential. */
  readonly maxInFlightPerGroup: number | null;
  /** Every consumer of this queue is exclusive. */
  readonly exclusive: boolean;
  /** A message whose delivery-count reaches this goes to the dead-letter queue. */
  readonly maxDeliveryAttempts: number;
  readonly deadLetterQueue: string;
  /** Memory the queue's messages may take (bookkeeping, and bodies kept in memory); null: only the broker's maxMemoryBytes. */
  readonly maxMemoryBytes: number | null;
  /** The queue is deleted once it has had no consumer and no message for autoDeleteDelayMs. */
  readonly autoDelete: boolean;
  readonly autoDeleteDelayMs: number;
}

/** What the AMQP layer reads from a message before it is enqueued; the core never parses bytes. */
export interface MessageMeta {
  readonly groupId: string | null;
  /** group-sequence 4294967295 or JMSXGroupSeq = -1: the group ends with this message. */
  readonly closesGroup: boolean;
  /** Absolute expiry on the broker's clock; null = never expires. */
  readonly expiresAtMs: number | null;
  /** header.delivery-count as the producer sent it. */
  readonly deliveryCount: number;
  readonly durable: boolean;
  /** header.priority 0-9 (AMQP 1.0 3.2.1; larger values count as 9); absent: 4. */
  readonly priority?: number;
  /** Delayed delivery (x-opt-delivery-time / x-opt-delivery-delay): the message enters its queue at this time; absent or null: at once. */
  readonly deliverAtMs?: number | null;
}

/**
 * Where a message is: `scheduled` (not in its queue yet), `queued` (waiting to be looked at or held back
 * with its group), `waiting` (no consumer whose selector matches it has credit: selection.ts),
 * `in-flight` (delivered, unsettled), `gone` (accepted, expired, dead-lettered, sent pre-settled).
 */
export type MessageStatus = 'scheduled' | 'queued' | 'waiting' | 'in-flight' | 'gone';

export interface QueuedMessage {
  /** Broker-wide unique, never reused. */
  readonly id: number;
  /** Position in its queue: the order every rule preserves. A scheduled message gets it when it enters the queue. */
  seq: number;
  readonly groupId: string | null;
  readonly closesGroup: boolean;
  readonly expiresAtMs: number | null;
  readonly durable: boolean;
  /** The queue this message was dead-lettered from (dead-letter queues only): where a retry sends it back. */
  readonly deadLetteredFrom: string | null;
  deliveryCount: number;
  /** header.priority, 0-9. */
  readonly priority: number;
  /** The priority level it is dispatched at (priority.ts); set when it enters its queue. */
  level: number;
  /** Its group's level record while it is queued or in flight (priority.ts); null for ungrouped messages. */
  levels: GroupLevels | null;
  status: MessageStatus;
  /** When a scheduled message enters its queue; null: it entered when it arrived. */
  readonly deliverAtMs: number | null;
  /** What selectors said about it while it waits for a matching consumer (selection.ts); null otherwise. */
  selection: MessageSelection | null;
  /** Consumers that answered modified{undeliverable-here}; null while none did. */
  excludedConsumers: Set<ConsumerId> | null;
  /**
   * The bytes the producer sent (bare message plus annotations), forwarded unchanged; or, for a message
   * paged out of memory, the store's reference to them. The core never looks inside; the runtime
   * replaces the bytes by a reference when it pages the message out.
   */
  body: MessageBody;
}

/** A message body kept only in the store (paged); the store's implementation adds where it is. */
export interface StoredBody {
  readonly storedBytes: number;
}

export type MessageBody = Uint8Array | StoredBody;

/** A message read back from the store at start-up, with the identity and position it had. */
export interface RecoveredMessage {
  readonly id: number;
  readonly seq: number;
  readonly meta: MessageMeta;
  readonly body: MessageBody;
  /** See QueuedMessage.deadLetteredFrom; absent in stores written before it was recorded. */
  readonly deadLetteredFrom?: string | null;
}

export type ConsumerId = string;

export interface Delivery {
  readonly id: number;
  readonly message: QueuedMessage;
  readonly group: Group | null;
}

/**
 * A consumer's message selector as the core sees it: opaque, and deterministic. `matches` gives the same
 * answer for the same message bytes and delivery-count; filters with equal keys are equal (consumers
 * with equal keys share one selector class and its verdicts, selection.ts).
 */
export interface MessageFilter {
  readonly key: string;
  matches(message: QueuedMessage): boolean;
}

export interface Consumer {
  readonly id: ConsumerId;
  readonly queue: Queue;
  /** The consumers with this consumer's selector (selection.ts); consumers without one share the match-all class. */
  readonly selectorClass: SelectorClass;
  readonly priority: number;
  readonly exclusive: boolean;
  /** The link settles on send (at-most-once): a delivery is settled the moment it is sent. */
  readonly settleOnSend: boolean;
  /** Order of attachment across the broker; breaks ties (earliest first) and drives rotation. */
  readonly attachOrder: number;
  /** False from the moment it detaches: a group moving to it is then assigned afresh instead. */
  attached: boolean;
  credit: number;
  drain: boolean;
  readonly unsettled: Map<number, Delivery>;
  /** Groups this consumer owns (in every state that has an owner), in the order it got them. */
  readonly groups: Set<Group>;
  /** Owned groups with parked messages that wait for this consumer's credit (wake list `owner-credit`). */
  readonly groupsAwaitingCredit: Set<Group>;
}

/** A message group; its states and every transition between them are in group-lifecycle.ts. */
export interface Group {
  readonly id: string;
  state: GroupState;
  /** The consumer that receives the group's messages (the donor while `moving`); null when `unowned`. */
  owner: Consumer | null;
  /** `moving`: who gets the group once nothing of it is in flight (null or detached: assigned afresh). */
  moveTo: Consumer | null;
  /** `closing`: queue position of the closing message; later messages wait for the next owner. */
  closedAtSeq: number | null;
  /**
   * Messages of this group held back, in order, because the group could not take them when dispatch
   * looked; allocated only while there are any.
   */
  parked: OrderedBuffer<QueuedMessage> | null;
  /** The wake list the group waits in while it has parked messages; null otherwise. */
  waitingIn: WakeList | null;
  /** Messages of this group in `main` or `parked`. */
  queued: number;
  /** Unsettled deliveries of this group made while groups applied; all held by `owner`. */
  inFlight: number;
  /**
   * The priority levels of its messages queued or in flight, exclusive-mode deliveries included
   * (priority.ts); null while it has none (an idle group keeps no record).
   */
  levels: GroupLevels | null;
  idleSinceMs: number;
  /** The groups of a queue in the order it came to know them (operators page through them): neighbours. */
  older: Group | null;
  newer: Group | null;
  /** Neighbours in the queue's idle list (idle-list.ts); null when not listed, or at an end. */
  idlePrev: Group | null;
  idleNext: Group | null;
}

export interface Queue {
  readonly name: string;
  readonly options: QueueOptions;
  nextSeq: number;
  /** Messages not yet looked at by dispatch (or returned to their position), in queue order: priority level, then seq. */
  readonly main: PriorityBuffer<QueuedMessage>;
  /**
   * Exclusive mode: messages the active exclusive consumer refused (undeliverable-here) or whose
   * selector does not match them; looked at again when the active exclusive consumer changes.
   */
  readonly deferred: OrderedBuffer<QueuedMessage>;
  /** Selector classes of the attached consumers, by filter key (null: consumers without a selector); selection.ts. */
  readonly selectorClasses: Map<string | null, SelectorClass>;
  nextSelectorClassSerial: number;
  /** Shared mode: ungrouped messages no consumer with credit may take (status `waiting`); selection.ts files them per selector class. */
  readonly waiting: Set<QueuedMessage>;
  /** Groups whose next message no consumer with credit may take (wake list `eligible-consumer`); filed per selector class too. */
  readonly groupsAwaitingMatch: Set<Group>;
  /** Level records of forgotten groups whose messages sent in exclusive mode are still in flight (priority.ts). */
  readonly orphanLevels: Map<string, GroupLevels>;
  /** Scheduled messages that will enter this queue. */
  scheduledCount: number;
  readonly groups: Map<string, Group>;
  /**
   * Both ends of the list of `groups` (linked through Group.older/newer) in the order the queue came to
   * know them: operators page through a million groups from any group on, at no cost per page but the page.
   */
  oldestGroup: Group | null;
  newestGroup: Group | null;
  /**
   * Groups with messages queued. After every command each of them is blocked (README "Why a group
   * waits"): dispatch has handed on everything that could go.
   */
  groupsWithQueued: number;
  /** Groups with parked messages that dispatch has to look at again (wake list `ready`), in wake order. */
  readonly readyGroups: Set<Group>;
  /**
   * Groups whose owner refused their next message (undeliverable-here, or its selector does not match)
   * while it holds others of the group (wake list `refusal`).
   */
  readonly groupsAwaitingConsumer: Set<Group>;
  /** Groups in state `idle`, the one idle longest first (LRU). */
  readonly idleGroups: IdleList;
  /** Sorted by priority (highest first), then attach order. */
  consumers: Consumer[];
  consumersWithCredit: number;
  /** attachOrder of the consumer picked last; the next pick starts after it. */
  rotationCursor: number;
  /** Consumers attached as exclusive; while non-zero the queue is in exclusive mode. */
  exclusiveCount: number;
  activeExclusive: Consumer | null;
  /** A message with an expiry time was queued here once: only then can a parked group's next message expire. */
  holdsExpiringMessages: boolean;
  queuedCount: number;
  inFlightCount: number;
  enqueuedTotal: number;
  removedTotal: number;
  /** Queue option autoDelete: since when ticks have seen it without consumers and messages; null while used. */
  unusedSinceMs: number | null;
}

export interface CoreState {
  readonly queues: Map<string, Queue>;
  readonly consumers: Map<ConsumerId, Consumer>;
  /** Receivers with source distribution-mode `copy` (browsing.ts); not consumers of their queue. */
  readonly browsers: Map<ConsumerId, Browser>;
  /** Messages waiting for their delivery time, the earliest first (schedule.ts). */
  readonly scheduled: BinaryHeap<ScheduledMessage>;
  readonly resolveQueueOptions: (queueName: string) => QueueOptions;
  nextMessageId: number;
  nextDeliveryId: number;
  nextAttachOrder: number;
  nowMs: number;
}

export interface ScheduledMessage {
  readonly queue: Queue;
  readonly message: QueuedMessage;
}

/** Outcomes a consumer can give (AMQP 1.0 3.4). */
export type Outcome =
  | { readonly type: 'accepted' }
  | { readonly type: 'released' }
  | { readonly type: 'rejected' }
  | { readonly type: 'modified'; readonly deliveryFailed: boolean; readonly undeliverableHere: boolean };

export type Command =
  | {
      readonly type: 'enqueue';
      readonly queue: string;
      readonly meta: MessageMeta;
      readonly body: MessageBody;
    }
  /** Creates the queue if it does not exist (queues are otherwise created on first use). */
  | { readonly type: 'declare'; readonly queue: string }
  /** Start-up: puts a stored message back in its queue at its position (no `enqueued` effect). */
  | { readonly type: 'recover'; readonly queue: string; readonly message: RecoveredMessage }
  | {
      readonly type: 'attach';
      readonly consumerId: ConsumerId;
      readonly queue: string;
      readonly priority: number;
      readonly exclusive: boolean;
      readonly settleOnSend: boolean;
      /** The consumer's selector (README "Selectors"); absent or null: every message. */
      readonly filter?: MessageFilter | null;
      /** A browser (source distribution-mode copy): shows messages without taking them (browsing.ts). */
      readonly browse?: boolean;
    }
  /** Detach, connection loss and idle time-out all mean the same to the core. */
  | { readonly type: 'detach'; readonly consumerId: ConsumerId }
  /** AMQP 1.0 2.6.7: `credit` is what the consumer may receive from now on. */
  | { readonly type: 'credit'; readonly consumerId: ConsumerId; readonly credit: number; readonly drain: boolean }
  | { readonly type: 'settle'; readonly consumerId: ConsumerId; readonly deliveryId: number; readonly outcome: Outcome }
  | { readonly type: 'tick' }
  /** The clock moved: scheduled messages due by now enter their queues (every command does that first). */
  | { readonly type: 'clock' }
  /** Operator: removes every queued message of the queue; deliveries in flight are left to settle. */
  | { readonly type: 'purge'; readonly queue: string }
  /**
   * Operator: the group leaves its owner, through the move of the group lifecycle: at once when nothing
   * of it is in flight, else once its in-flight messages are settled or returned; its next message is
   * then assigned afresh.
   */
  | { readonly type: 'release-group'; readonly queue: string; readonly groupId: string }
  /**
   * Operator: queued messages of the dead-letter queue `queue` go back to the queue each was
   * dead-lettered from (only those from `from` when it is set; at most `limit`), in dead-letter order,
   * with delivery-count 0. Messages whose origin is unknown stay.
   */
  | { readonly type: 'retry-dead-letters'; readonly queue: string; readonly from: string | null; readonly limit: number | null }
  /** Removes a queue with every message it holds; it must have no consumer attached (queue-deletion.ts). */
  | { readonly type: 'delete-queue'; readonly queue: string };

export type RemovalReason = 'accepted' | 'expired' | 'dead-letter-loop' | 'purged' | 'queue-deleted';
export type DeadLetterReason = 'rejected' | 'max-delivery-attempts';

export type Effect =
  | {
      readonly type: 'deliver';
      readonly queue: string;
      readonly consumerId: ConsumerId;
      readonly deliveryId: number;
      readonly message: QueuedMessage;
      /** Settled on send: the consumer's link is at-most-once, or the receiver is a browser. */
      readonly settled: boolean;
      /** Shown to a browser: the message stays queued, nothing about it changes. */
      readonly browsed?: true;
    }
  /** A new message; with status `scheduled` it enters the queue later (`scheduled-due`). */
  | { readonly type: 'enqueued'; readonly queue: string; readonly message: QueuedMessage }
  /** A scheduled message's time came: it entered its queue at position `message.seq` (store must record it). */
  | { readonly type: 'scheduled-due'; readonly queue: string; readonly message: QueuedMessage }
  | { readonly type: 'removed'; readonly queue: string; readonly message: QueuedMessage; readonly reason: RemovalReason }
  /** The message left `queue` for `deadLetterQueue`; an `enqueued` effect for its copy there follows. */
  | {
      readonly type: 'dead-lettered';
      readonly queue: string;
      readonly deadLetterQueue: string;
      readonly message: QueuedMessage;
      readonly reason: DeadLetterReason;
    }
  /** An operator retry moved the message from the dead-letter queue `queue` back to `originQueue`; an `enqueued` effect for its copy there follows. */
  | { readonly type: 'retried'; readonly queue: string; readonly originQueue: string; readonly message: QueuedMessage }
  /** delivery-count changed while the message stays queued (store must record it). */
  | { readonly type: 'delivery-count'; readonly queue: string; readonly message: QueuedMessage }
  /** The consumer asked to drain and nothing more is available: its remaining credit is used up. */
  | { readonly type: 'drained'; readonly consumerId: ConsumerId }
  | { readonly type: 'queue-created'; readonly queue: string; readonly options: QueueOptions }
  /** The queue is gone; a `removed` effect for each message it held came before. */
  | { readonly type: 'queue-deleted'; readonly queue: string }
  | { readonly type: 'exclusive-active'; readonly queue: string; readonly consumerId: ConsumerId | null }
  | { readonly type: 'group-owner'; readonly queue: string; readonly groupId: string; readonly consumerId: ConsumerId | null };
