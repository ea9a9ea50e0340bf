import { create_container, type Connection, type ConnectionOptions, type Delivery, type Message, type Receiver, type Sender } from 'rhea';

/** Promise helpers around a rhea client connection, for integration tests. */
export interface TestClient {
  readonly connection: Connection;
  openReceiver(source: string | Record<string, unknown>, options?: Record<string, unknown>): Promise<Receiver>;
  openSender(target: string | null | Record<string, unknown>, options?: Record<string, unknown>): Promise<Sender>;
  close(): Promise<void>;
}

export async function connect(port: number, options: Partial<ConnectionOptions> = {}): Promise<TestClient> {
  const container = create_container();
  const connection = container.connect({ host: '127.0.0.1', port, reconnect: false, ...options } as ConnectionOptions);
  connection.on('connection_error', () => undefined);
  connection.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    connection.once('connection_open', () => resolve());
    connection.once('disconnected', (ctx) => reject(ctx.error ?? new Error('disconnected')));
  });
  return clientOf(connection);
}

/**
 * A client with a failover list, as rhea does it: when its connection is lost it reconnects to the next
 * port of the list (round robin) and attaches its links again. What the application must do itself (send
 * again what was not accepted, grant credit again) is its own.
 */
export async function connectWithFailover(ports: readonly number[]): Promise<TestClient> {
  let attempt = 0;
  const connection = create_container().connect({
    reconnect: true,
    initial_reconnect_delay: 100,
    max_reconnect_delay: 1000,
    connection_details: () => ({ host: '127.0.0.1', port: ports[attempt++ % ports.length] }),
  } as unknown as ConnectionOptions);
  connection.on('connection_error', () => undefined);
  connection.on('error', () => undefined);
  connection.on('disconnected', () => undefined);
  await new Promise<void>((resolve) => connection.once('connection_open', () => resolve()));
  return clientOf(connection);
}

/** The promise helpers around an open connection. */
export function clientOf(connection: Connection): TestClient {
  return {
    connection,
    openReceiver(source, receiverOptions = {}) {
      const receiver = connection.open_receiver({ source, autoaccept: false, credit_window: 0, ...receiverOptions } as never);
      return linkOpened(receiver);
    },
    openSender(target, senderOptions = {}) {
      const sender = connection.open_sender({ target: target === null ? {} : target, ...senderOptions } as never);
      return linkOpened(sender);
    },
    close() {
      return new Promise<void>((resolve) => {
        // A client with a failover list stops reconnecting.
        (connection as unknown as { options: { reconnect: unknown } }).options.reconnect = false;
        // Closed, or lost (its broker died; a connection without reconnect is never closed then).
        if (connection.is_closed() || !connection.is_open()) {
          connection.close();
          return resolve();
        }
        connection.once('connection_close', () => resolve());
        connection.once('disconnected', () => resolve());
        connection.close();
      });
    },
  };
}

function linkOpened<T extends Sender | Receiver>(link: T): Promise<T> {
  return new Promise((resolve, reject) => {
    const onOpen = (): void => {
      // A refused link is answered with a null terminus and then a detach (AMQP 1.0 2.6.3).
      setImmediate(() => (link.is_closed() || link.error ? reject(linkError(link)) : resolve(link)));
    };
    link.once(link.is_sender() ? 'sender_open' : 'receiver_open', onOpen);
    link.once(link.is_sender() ? 'sender_error' : 'receiver_error', () => reject(linkError(link)));
  });
}

function linkError(link: Sender | Receiver): Error & { condition?: string } {
  const error = link.error as { condition?: string; description?: string } | undefined;
  const out = new Error(error?.description ?? 'link refused') as Error & { condition?: string };
  out.condition = error?.condition;
  return out;
}

/** Sends messages and resolves with their outcomes once all are settled (or immediately if pre-settled). */
export function sendAll(sender: Sender, messages: Message[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const outcomes: string[] = new Array(messages.length);
    let next = 0;
    let settled = 0;
    const deliveries = new Map<Delivery, number>();
    const presettled = (sender as unknown as { local: { attach: { snd_settle_mode?: number } } }).local.attach.snd_settle_mode === 1;
    const pump = (): void => {
      while (next < messages.length && sender.sendable()) {
        const delivery = sender.send(messages[next]!);
        deliveries.set(delivery, next++);
      }
      if (presettled && next === messages.length) resolve(outcomes.fill('presettled'));
    };
    const record = (name: string) => (ctx: { delivery?: Delivery }) => {
      const index = deliveries.get(ctx.delivery!);
      if (index === undefined || outcomes[index] !== undefined) return;
      outcomes[index] = name;
      if (++settled === messages.length) resolve(outcomes);
    };
    sender.on('accepted', record('accepted'));
    sender.on('rejected', record('rejected'));
    sender.on('released', record('released'));
    sender.on('modified', record('modified'));
    sender.on('sendable', pump);
    sender.on('sender_error', () => reject(new Error('sender error')));
    pump();
  });
}

export interface Received {
  readonly message: Message;
  readonly delivery: Delivery;
}

/** Grants `credit` and collects messages until `count` arrived or `timeoutMs` passed. */
export function receive(receiver: Receiver, count: number, timeoutMs = 2000, credit = count): Promise<Received[]> {
  return new Promise((resolve) => {
    const got: Received[] = [];
    const onMessage = (ctx: { message?: Message; delivery?: Delivery }): void => {
      got.push({ message: ctx.message!, delivery: ctx.delivery! });
      if (got.length >= count) finish();
    };
    const timer = setTimeout(() => finish(), timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      receiver.removeListener('message', onMessage);
      resolve(got);
    };
    receiver.on('message', onMessage);
    if (credit > 0) receiver.add_credit(credit);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `predicate` holds; fails the test with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
