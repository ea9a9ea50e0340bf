import type { Delivery, Message, Receiver, Sender } from 'rhea';
import type { TestClient } from './client';

/**
 * Grouped traffic for cluster tests: producers that number their messages per group, consumers that
 * hold what they receive for a while before accepting it, and a record of every arrival with the time
 * it was received and settled (one clock: the test process's), to check groups, order and overlaps.
 */
export interface Arrival {
  readonly consumer: string;
  readonly producer: string;
  readonly group: string;
  readonly index: number;
  readonly deliveryCount: number;
  readonly receivedAt: number;
  /** When the consumer settled it (or its link or connection ended); Infinity while held. */
  settledAt: number;
}

export class TrafficRecord {
  readonly arrivals: Arrival[] = [];
  /** producer/group/index of every message a producer saw accepted. */
  readonly accepted = new Set<string>();

  /** Every accepted message arrived at least once. */
  missing(): string[] {
    const arrived = new Set(this.arrivals.map((a) => `${a.producer}/${a.group}/${a.index}`));
    return [...this.accepted].filter((key) => !arrived.has(key)).sort();
  }

  /** First arrivals of each producer's messages of a group, in arrival order, must have rising indexes. */
  outOfOrder(): string[] {
    const seen = new Set<string>();
    const last = new Map<string, number>();
    const problems: string[] = [];
    for (const arrival of [...this.arrivals].sort((a, b) => a.receivedAt - b.receivedAt)) {
      const key = `${arrival.producer}/${arrival.group}/${arrival.index}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const stream = `${arrival.producer}/${arrival.group}`;
      const previous = last.get(stream) ?? -1;
      if (arrival.index < previous) problems.push(`${stream}: ${arrival.index} after ${previous}`);
      last.set(stream, Math.max(previous, arrival.index));
    }
    return problems;
  }

  /** Pairs of deliveries of one group held by two different consumers at the same time. */
  overlaps(): string[] {
    const byGroup = new Map<string, Arrival[]>();
    for (const arrival of this.arrivals) byGroup.set(arrival.group, [...(byGroup.get(arrival.group) ?? []), arrival]);
    const problems: string[] = [];
    for (const [group, arrivals] of byGroup) {
      const sorted = arrivals.sort((a, b) => a.receivedAt - b.receivedAt);
      for (let i = 0; i < sorted.length; i++) {
        for (let j = i + 1; j < sorted.length && sorted[j]!.receivedAt < sorted[i]!.settledAt; j++) {
          if (sorted[j]!.consumer !== sorted[i]!.consumer) {
            problems.push(`${group}: ${sorted[i]!.consumer} held #${sorted[i]!.index} until ${sorted[i]!.settledAt} while ${sorted[j]!.consumer} received #${sorted[j]!.index} at ${sorted[j]!.receivedAt}`);
          }
        }
      }
    }
    return problems;
  }

  /** The consumers each group's messages went to. */
  consumersOf(group: string): Set<string> {
    return new Set(this.arrivals.filter((a) => a.group === group).map((a) => a.consumer));
  }
}

export interface HoldingConsumer {
  readonly name: string;
  readonly receiver: Receiver;
  /** Link-level detaches the client saw (a surviving node's client must see none during a failover). */
  readonly detaches: string[];
  /** Messages received and not settled yet. */
  held(): number;
}

/**
 * A consumer that accepts each message `holdMs` after it arrived (a function: asked at each arrival),
 * keeping `credit` outstanding. When its link or connection ends, what it held counts as released then;
 * on a connection that reconnects (a failover list), the link attaches again and gets its credit again.
 */
export function holdingConsumer(
  record: TrafficRecord,
  client: TestClient,
  receiver: Receiver,
  name: string,
  credit: number,
  holdMs: number | (() => number),
): HoldingConsumer {
  const holding = new Map<Delivery, Arrival>();
  const detaches: string[] = [];
  const endHolds = (): void => {
    const now = performance.now();
    for (const arrival of holding.values()) arrival.settledAt = now;
    holding.clear();
  };
  receiver.on('message', (ctx) => {
    const message = ctx.message as Message;
    const properties = message.application_properties as { producer: string; index: number };
    const arrival: Arrival = {
      consumer: name,
      producer: properties.producer,
      group: String(message.group_id),
      index: properties.index,
      deliveryCount: message.delivery_count ?? 0,
      receivedAt: performance.now(),
      settledAt: Infinity,
    };
    record.arrivals.push(arrival);
    const delivery = ctx.delivery!;
    holding.set(delivery, arrival);
    setTimeout(() => {
      if (!holding.has(delivery)) return;
      arrival.settledAt = performance.now();
      holding.delete(delivery);
      delivery.accept();
      receiver.add_credit(1);
    }, typeof holdMs === 'number' ? holdMs : holdMs());
  });
  receiver.on('receiver_close', () => {
    detaches.push(String((receiver.error as { condition?: string } | undefined)?.condition ?? 'detached'));
    endHolds();
  });
  client.connection.on('disconnected', endHolds);
  receiver.on('receiver_open', () => receiver.add_credit(credit - holding.size));
  receiver.add_credit(credit);
  return { name, receiver, detaches, held: () => holding.size };
}

export interface GroupProducer {
  readonly name: string;
  readonly sender: Sender;
  /** Sent so far. */
  sent(): number;
  /** Sent and not yet accepted. */
  unsettled(): number;
  stop(): void;
  readonly detaches: string[];
}

/**
 * Sends `total` messages round-robin over `groups`, numbered per group, at most `window` unsettled at a
 * time, every `intervalMs` a batch; records each accepted one. On a connection that reconnects (a
 * failover list), what was not accepted when the connection was lost is sent again first, in order
 * (at-least-once, as a client must).
 */
export function groupProducer(
  record: TrafficRecord,
  sender: Sender,
  name: string,
  groups: readonly string[],
  total: number,
  options: { durable: boolean; window: number; intervalMs: number },
): GroupProducer {
  const next = new Map<string, number>();
  const pending = new Map<Delivery, { group: string; index: number }>();
  let resend: { group: string; index: number }[] = [];
  const detaches: string[] = [];
  let sent = 0;
  let stopped = false;
  sender.on('accepted', (ctx) => {
    const message = pending.get(ctx.delivery!);
    if (message === undefined) return;
    pending.delete(ctx.delivery!);
    record.accepted.add(`${name}/${message.group}/${message.index}`);
  });
  // While the connection is down rhea keeps the link's old credit: nothing is sent until it is back.
  let connected = true;
  sender.connection.on('disconnected', () => {
    connected = false;
    resend = [...pending.values(), ...resend];
    pending.clear();
  });
  sender.connection.on('connection_open', () => {
    connected = true;
  });
  const send = (message: { group: string; index: number }): void => {
    const delivery = sender.send({
      body: `${name}-${message.group}-${message.index}`,
      group_id: message.group,
      durable: options.durable,
      application_properties: { producer: name, index: message.index },
    });
    pending.set(delivery, message);
  };
  sender.on('sender_close', () => detaches.push(String((sender.error as { condition?: string } | undefined)?.condition ?? 'detached')));
  const tick = (): void => {
    if (stopped) return;
    while (connected && resend.length > 0 && pending.size < options.window && sender.sendable()) send(resend.shift()!);
    while (connected && resend.length === 0 && sent < total && pending.size < options.window && sender.sendable()) {
      const group = groups[sent % groups.length]!;
      const index = next.get(group) ?? 0;
      next.set(group, index + 1);
      send({ group, index });
      sent++;
    }
    if (sent < total || resend.length > 0 || pending.size > 0) setTimeout(tick, options.intervalMs);
  };
  tick();
  return {
    name,
    sender,
    sent: () => sent,
    unsettled: () => pending.size,
    stop: () => {
      stopped = true;
    },
    detaches,
  };
}
