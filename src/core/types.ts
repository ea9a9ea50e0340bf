import type { GroupState, WakeList } from './group-lifecycle';
import type { OrderedBuffer } from './ordered-buffer';

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
}

export interface QueuedMessage {
  /** Broker-wide unique, never reused. */
  readonly id: number;
  /** Position in its queue: the order every rule preserves. */
  readonly seq: number;
  readonly groupId: string | null;
  readonly closesGroup: boolean;
  readonly expiresAtMs: number | null;
  readonly durable: boolean;
  deliveryCount: number;
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
}

export type ConsumerId = string;

export interface Delivery {
  readonly id: number;
  readonly message: QueuedMessage;
  readonly group: Group | null;
}

export interface Consumer {
  readonly id: ConsumerId;
  readonly queue: Queue;
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
  idleSinceMs: number;
}

export interface Queue {
  readonly name: string;
  readonly options: QueueOptions;
  nextSeq: number;
  /** Messages not yet looked at by dispatch (or returned to their position), in seq order. */
  readonly main: OrderedBuffer<QueuedMessage>;
  /**
   * Ungrouped messages refused (undeliverable-here) by every consumer that had credit, or in exclusive
   * mode by the active one; looked at again when a consumer's credit rises from zero or the active
   * exclusive consumer changes.
   */
  readonly deferred: OrderedBuffer<QueuedMessage>;
  readonly groups: Map<string, Group>;
  /** Groups with parked messages that dispatch has to look at again (wake list `ready`), in wake order. */
  readonly readyGroups: Set<Group>;
  /**
   * Groups whose next message was refused (undeliverable-here) by the owner or by every consumer with
   * credit (wake list `refusal`).
   */
  readonly groupsAwaitingConsumer: Set<Group>;
  /** Groups in state `idle`, the one idle longest first (LRU). */
  readonly idleGroups: Set<Group>;
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
  readonly resolveQueueOptions: (queueName: string) => QueueOptions;
  nextMessageId: number;
  nextDeliveryId: number;
  nextAttachOrder: number;
  nowMs: number;
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
    }
  /** Detach, connection loss and idle time-out all mean the same to the core. */
  | { readonly type: 'detach'; readonly consumerId: ConsumerId }
  /** AMQP 1.0 2.6.7: `credit` is what the consumer may receive from now on. */
  | { readonly type: 'credit'; readonly consumerId: ConsumerId; readonly credit: number; readonly drain: boolean }
  | { readonly type: 'settle'; readonly consumerId: ConsumerId; readonly deliveryId: number; readonly outcome: Outcome }
  /** Deletes the queue, its messages and its consumers (src/core/queue-lifetime.ts); nothing when there is no such queue. */
  | { readonly type: 'delete-queue'; readonly queue: string }
  | { readonly type: 'tick' };

export type RemovalReason = 'accepted' | 'expired' | 'dead-letter-loop';
export type DeadLetterReason = 'rejected' | 'max-delivery-attempts';

export type Effect =
  | {
      readonly type: 'deliver';
      readonly queue: string;
      readonly consumerId: ConsumerId;
      readonly deliveryId: number;
      readonly message: QueuedMessage;
      /** Settled on send: the consumer's link is at-most-once. */
      readonly settled: boolean;
    }
  | { readonly type: 'enqueued'; readonly queue: string; readonly message: QueuedMessage }
  | { readonly type: 'removed'; readonly queue: string; readonly message: QueuedMessage; readonly reason: RemovalReason }
  /** The message left `queue` for `deadLetterQueue`; an `enqueued` effect for its copy there follows. */
  | {
      readonly type: 'dead-lettered';
      readonly queue: string;
      readonly deadLetterQueue: string;
      readonly message: QueuedMessage;
      readonly reason: DeadLetterReason;
    }
  /** delivery-count changed while the message stays queued (store must record it). */
  | { readonly type: 'delivery-count'; readonly queue: string; readonly message: QueuedMessage }
  /** The consumer asked to drain and nothing more is available: its remaining credit is used up. */
  | { readonly type: 'drained'; readonly consumerId: ConsumerId }
  | { readonly type: 'queue-created'; readonly queue: string; readonly options: QueueOptions }
  /**
   * The queue is gone with every message it held, queued or in flight (`messages`), and its consumers
   * (`consumers`); `unused`: queue option autoDelete.
   */
  | {
      readonly type: 'queue-deleted';
      readonly queue: string;
      readonly reason: 'requested' | 'unused';
      readonly consumers: readonly ConsumerId[];
      readonly messages: readonly QueuedMessage[];
    }
  | { readonly type: 'exclusive-active'; readonly queue: string; readonly consumerId: ConsumerId | null }
  | { readonly type: 'group-owner'; readonly queue: string; readonly groupId: string; readonly consumerId: ConsumerId | null };
