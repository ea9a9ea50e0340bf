import net from 'node:net';

/**
 * A TCP relay in the test process: what connects to its port is connected through to `target`. Cluster
 * nodes advertise a relay's port to each other, so a test can cut their connections (`cut`) while both
 * nodes go on, as a network would.
 */
export interface TcpRelay {
  readonly port: number;
  /** Where new connections go; a node restarted on another port is reached through the same relay. */
  target: number;
  /** Ends every connection through the relay at once (both ends see it reset). */
  cut(): number;
  close(): Promise<void>;
}

export async function startTcpRelay(target: number): Promise<TcpRelay> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const relay: TcpRelay = {
    port: 0,
    target,
    cut() {
      const count = pairs.size;
      for (const [a, b] of pairs) {
        a.resetAndDestroy();
        b.resetAndDestroy();
      }
      pairs.clear();
      return count;
    },
    async close() {
      relay.cut();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = net.createServer((incoming) => {
    const outgoing = net.connect(relay.target, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [incoming, outgoing];
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      incoming.destroy();
      outgoing.destroy();
    };
    for (const socket of pair) {
      socket.on('error', end);
      socket.on('close', end);
    }
    incoming.pipe(outgoing);
    outgoing.pipe(incoming);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (relay as { port: number }).port = (server.address() as net.AddressInfo).port;
  return relay;
}
