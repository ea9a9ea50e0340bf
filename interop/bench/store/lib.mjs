// Shared helpers for the store measurements (recovery.mjs, backlog-memory.mjs, store-engines.mjs).
// Plain Node ESM; starts the real broker (`node bin/convoy start`) as a child process.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir, loadavg } from 'node:os';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BENCH_SEND = join(REPO, 'interop/.cache/bench-client/bench-send');
export const BENCH_RECV = join(REPO, 'interop/.cache/bench-client/bench-recv');

/** `--name value` / `--flag` arguments into an object. */
export function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown option ${a}`);
    if (typeof defaults[key] === 'boolean') out[key] = true;
    else {
      const v = argv[++i];
      out[key] = typeof defaults[key] === 'number' ? Number(v) : v;
    }
  }
  return out;
}

/** The Convoy checkout whose dist/ is run: --root, else $CONVOY_ROOT, else this repository. */
export function convoyRoot(opt) {
  return resolve(opt || process.env.CONVOY_ROOT || REPO);
}

export function rhea(root) {
  return createRequire(join(root, 'package.json'))('rhea');
}

export function tmpDir(prefix) {
  return mkdtempSync(join(process.env.BENCH_TMP || tmpdir(), prefix));
}

export function duBytes(dir) {
  return Number(execFileSync('du', ['-sb', dir]).toString().split(/\s+/)[0]);
}

export function procStatus(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text) || [])[1] || 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

export const MiB = 1024 * 1024;
export const fmtMiB = (b) => (b / MiB).toFixed(1);

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function load() {
  return loadavg().map((x) => x.toFixed(2)).join(' ');
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `node bin/convoy start` on port 0 with the given data dir and config object.
 * Resolves once "listening" is logged, with { pid, port, recovered, listenMs, proc, stop(signal) }.
 * listenMs: from spawn to the "listening" line (includes Node start-up and module loading).
 */
export function startBroker({ root, dataDir, config = {}, logFile, timeoutMs = 300_000 }) {
  const configFile = join(dataDir + '.config.json');
  writeFileSync(configFile, JSON.stringify(config));
  const t0 = performance.now();
  const proc = spawn(process.execPath, [join(root, 'bin/convoy'), 'start', '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--data-dir', dataDir, '--config', configFile, '--log-level', 'info'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  let recovered = null;
  let buf = '';
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => rejectStart(new Error(`broker did not listen within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`)), timeoutMs);
    const onLine = (line) => {
      lines.push(line);
      if (lines.length > 2000) lines.splice(0, 1000);
      let j;
      try {
        j = JSON.parse(line);
      } catch {
        return;
      }
      if (j.msg === 'store recovered') recovered = { ...j, atMs: performance.now() - t0 };
      if (j.msg === 'listening') {
        clearTimeout(timer);
        const listenMs = performance.now() - t0;
        resolveStart({
          pid: proc.pid,
          port: j.port,
          recovered,
          listenMs,
          proc,
          lines,
          exited,
          async stop(signal = 'SIGTERM') {
            if (proc.exitCode !== null || proc.signalCode !== null) return exited;
            proc.kill(signal);
            return exited;
          },
        });
      }
    };
    proc.stdout.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    proc.stderr.on('data', (d) => lines.push('[stderr] ' + d.toString().trim()));
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (logFile) writeFileSync(logFile, lines.join('\n') + '\n', { flag: 'a' });
      rejectStart(new Error(`broker exited (${code ?? signal}) before listening:\n${lines.slice(-20).join('\n')}`));
    });
  });
}

/** Runs bench-send (Proton C++); resolves with its final JSON line. */
export function benchSend({ port, address, count, size = 1024, durable = true, connections = 1, window = 1000, timeoutS = 600 }) {
  if (!existsSync(BENCH_SEND)) throw new Error(`${BENCH_SEND} is not built: see interop/bench/README.md (client/build.sh)`);
  const args = ['--url', `amqp://127.0.0.1:${port}`, '--address', address, '--count', String(count), '--size', String(size), '--window', String(window), '--connections', String(connections), '--timeout', String(timeoutS)];
  if (durable) args.push('--durable');
  return new Promise((res, rej) => {
    const p = spawn(BENCH_SEND, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      const last = out.trim().split('\n').filter(Boolean).pop();
      let j;
      try {
        j = JSON.parse(last);
      } catch {
        return rej(new Error(`bench-send exited ${code}: ${out}`));
      }
      if (!j.ok) return rej(new Error(`bench-send failed: ${last}`));
      res(j);
    });
  });
}

/** Periodically samples VmRSS of pid; returns { stop() -> samples[{tMs, rss}] }. */
export function sampleRss(pid, everyMs = 250) {
  const t0 = performance.now();
  const samples = [];
  const timer = setInterval(() => samples.push({ tMs: Math.round(performance.now() - t0), ...procStatus(pid) }), everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      return samples;
    },
  };
}
