// Small pieces the benchmark scripts share.
import net from 'node:net';

/** The word after `name` on the command line, or `fallback` when `name` is not given. */
export function option(name, fallback) {
  const args = process.argv.slice(2);
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
}

/** `option` read as a number. */
export const numberOption = (name, fallback) => Number(option(name, fallback));

/** A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
