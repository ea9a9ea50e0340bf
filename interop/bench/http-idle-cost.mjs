#!/usr/bin/env node
// The broker's CPU time per message with the HTTP listener on (prom-client's process metrics watching the
// event loop and garbage collection) and off, nothing scraped: what having the console and /metrics costs
// while nobody looks. Three rounds of each, 15 s of load each (the load client of scrape-cost.mjs).
//
//   npm run build && node interop/bench/http-idle-cost.mjs
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** CPU time (user + system) the process has used, in ms (Linux /proc; clock ticks of 10 ms). */
function cpuMillis(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function run(httpPort) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'convoy-http-idle-'));
  const configFile = path.join(dir, 'convoy.json');
  writeFileSync(configFile, JSON.stringify({ store: 'memory', logLevel: 'info', http: { port: httpPort } }));
  const broker = spawn(process.execPath, [path.join(ROOT, 'bin', 'convoy'), 'start', '--host', '127.0.0.1', '--port', '0', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve) => {
    let output = '';
    broker.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /"port":(\d+),"msg":"listening"/.exec(output);
      if (match) resolve(Number(match[1]));
    });
  });
  const load = fork(path.join(ROOT, 'interop', 'bench', 'scrape-cost.mjs'), ['--load', String(port)]);
  let received = 0;
  load.on('message', (m) => (received += m.received));
  await new Promise((resolve) => setTimeout(resolve, 3000));
  received = 0;
  const before = cpuMillis(broker.pid);
  await new Promise((resolve) => setTimeout(resolve, 15_000));
  const used = cpuMillis(broker.pid) - before;
  const messages = received;
  load.kill();
  broker.kill('SIGTERM');
  return { http: httpPort !== null, messages, cpuMicrosPerMessage: Number(((used * 1000) / messages).toFixed(2)) };
}

for (let round = 0; round < 3; round++) {
  console.log(JSON.stringify(await run(null)));
  console.log(JSON.stringify(await run(0)));
}
