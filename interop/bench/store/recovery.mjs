#!/usr/bin/env node
// Recovery of a large durable backlog through the real broker (issue 4's proof).
//
//   node interop/bench/store/recovery.mjs [--count 1000000] [--size 1024] [--restarts 3]
//        [--connections 1] [--root DIR] [--out FILE]
//
// 1. fills a fresh data dir with --count durable messages (bench-send --durable, one link by default so
//    that the x-opt-ts each message carries gives the send order), then stops the broker with SIGTERM;
// 2. restarts it --restarts times with the default maxMemoryBytes (256 MiB) and --restarts times with
//    64 MiB, each stopped by SIGTERM: recoveryMs ("store recovered"), time from spawn to "listening",
//    VmRSS at "listening" and 3 s later, VmHWM;
// 3. the same after SIGKILL: every measured start follows a broker that was SIGKILLed;
// 4. drains the queue with a rhea consumer: exactly --count messages, x-opt-ts never decreasing
//    (queue order = send order), delivery-count 0; then watches `du -sb` while the broker reclaims.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { benchSend, convoyRoot, duBytes, fmtMiB, load, median, MiB, parseArgs, procStatus, rhea, sleep, startBroker, tmpDir } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), { count: 1_000_000, size: 1024, restarts: 3, connections: 1, root: '', out: '', queue: 'recovery' });
const root = convoyRoot(opt.root);
const base = tmpDir('convoy-recovery-');
const dataDir = join(base, 'data');
const logFile = join(base, 'broker.log');
const result = { startedAt: new Date().toISOString(), root, count: opt.count, size: opt.size, loadavg: [load()], phases: {} };
const log = (...a) => console.error(`[recovery ${new Date().toISOString().slice(11, 19)}]`, ...a);
log(`root ${root}, data dir ${dataDir}, load ${load()}`);

async function measuredStart(config, label) {
  const b = await startBroker({ root, dataDir, config, logFile });
  const atListen = procStatus(b.pid);
  await sleep(3000);
  const settled = procStatus(b.pid);
  const r = {
    label,
    recoveryMs: b.recovered?.recoveryMs,
    queues: b.recovered?.queues,
    messages: b.recovered?.messages,
    listenMs: Math.round(b.listenMs),
    rssAtListenMiB: +fmtMiB(atListen.rss),
    rssAfter3sMiB: +fmtMiB(settled.rss),
    hwmMiB: +fmtMiB(settled.hwm),
    du: duBytes(dataDir),
    load: load(),
  };
  log(JSON.stringify(r));
  return { b, r };
}

// 1. Fill.
{
  const b = await startBroker({ root, dataDir, logFile });
  const t0 = performance.now();
  const s = await benchSend({ port: b.port, address: opt.queue, count: opt.count, size: opt.size, durable: true, connections: opt.connections, window: 1000, timeoutS: 1800 });
  const fillS = (performance.now() - t0) / 1000;
  const duLoaded = duBytes(dataDir);
  const rssLoaded = procStatus(b.pid);
  const exit = await b.stop('SIGTERM');
  const duStopped = duBytes(dataDir);
  result.phases.fill = {
    accepted: s.accepted,
    seconds: +fillS.toFixed(1),
    msgPerS: Math.round(s.accepted / fillS),
    benchSendMsgPerS: s.msg_per_s,
    rssWhileLoadedMiB: +fmtMiB(rssLoaded.rss),
    hwmMiB: +fmtMiB(rssLoaded.hwm),
    duLoaded,
    duAfterStop: duStopped,
    exit,
    load: load(),
  };
  log('fill', JSON.stringify(result.phases.fill));
}

// 2. Restarts after SIGTERM.
for (const [name, config] of [
  ['sigterm_default256MiB', {}],
  ['sigterm_64MiB', { maxMemoryBytes: 64 * MiB }],
]) {
  const runs = [];
  for (let i = 0; i < opt.restarts; i++) {
    const { b, r } = await measuredStart(config, `${name}#${i + 1}`);
    await b.stop('SIGTERM');
    runs.push(r);
  }
  result.phases[name] = runs;
}

// 3. Restarts after SIGKILL: each measured broker is itself SIGKILLed, so every start follows a kill.
{
  const first = await startBroker({ root, dataDir, logFile });
  await first.stop('SIGKILL');
  for (const [name, config] of [
    ['sigkill_default256MiB', {}],
    ['sigkill_64MiB', { maxMemoryBytes: 64 * MiB }],
  ]) {
    const runs = [];
    for (let i = 0; i < opt.restarts; i++) {
      const { b, r } = await measuredStart(config, `${name}#${i + 1}`);
      await b.stop('SIGKILL');
      runs.push(r);
    }
    result.phases[name] = runs;
  }
}

// 4. Drain and reclaim.
{
  const { b, r } = await measuredStart({}, 'drain-start');
  const expected = r.messages;
  const container = rhea(root).create_container({ id: 'drain' });
  let received = 0;
  let prevTs = -Infinity;
  let orderViolations = 0;
  let redelivered = 0;
  let firstViolation = null;
  const spot = [];
  const t0 = performance.now();
  let tLast = t0;
  await new Promise((resolveDrain) => {
    const conn = container.connect({ host: '127.0.0.1', port: b.port, reconnect: false });
    const receiver = conn.open_receiver({ source: opt.queue, credit_window: 2000, autoaccept: true });
    let idle = null;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        conn.close();
        resolveDrain();
      }, received >= expected ? 3000 : 30000);
    };
    armIdle();
    receiver.on('message', (ctx) => {
      received++;
      tLast = performance.now();
      const ts = Number(ctx.message.message_annotations?.['x-opt-ts']);
      if (!(ts >= prevTs)) {
        orderViolations++;
        firstViolation ??= { at: received, prevTs, ts };
      }
      prevTs = ts;
      if ((ctx.message.delivery_count ?? 0) > 0) redelivered++;
      if (received === 1 || received % 100_000 === 0 || received === expected) spot.push({ n: received, ts });
      if (received === expected || received % 50_000 === 0) armIdle();
    });
  });
  const drainS = (tLast - t0) / 1000;
  const du = [{ tS: 0, du: duBytes(dataDir) }];
  for (let t = 1; t <= 15; t++) {
    await sleep(1000);
    du.push({ tS: t, du: duBytes(dataDir) });
  }
  const stopped = await b.stop('SIGTERM');
  const duAfterStop = duBytes(dataDir);
  const { b: again, r: r2 } = await measuredStart({}, 'after-drain restart');
  await again.stop('SIGTERM');
  result.phases.drain = {
    expected,
    received,
    exactlyExpected: received === expected && expected === opt.count,
    orderViolations,
    firstViolation,
    redelivered,
    seconds: +drainS.toFixed(1),
    msgPerS: Math.round(received / drainS),
    spotChecks: spot,
    duAfterDrainOverTime: du,
    duAfterStop,
    stopped,
    restartAfterDrain: r2,
    load: load(),
  };
  log('drain', JSON.stringify({ ...result.phases.drain, spotChecks: spot.length }));
}

result.loadavg.push(load());
result.dataDir = dataDir;
const out = opt.out || join(base, 'recovery.json');
writeFileSync(out, JSON.stringify(result, null, 2));
log(`wrote ${out}`);

// Summary table (medians over the restarts).
const rows = ['sigterm_default256MiB', 'sigterm_64MiB', 'sigkill_default256MiB', 'sigkill_64MiB'].map((k) => {
  const runs = result.phases[k];
  const m = (f) => median(runs.map((x) => x[f]));
  return `| ${k} | ${runs[0].messages} | ${m('recoveryMs')} | ${m('listenMs')} | ${m('rssAtListenMiB')} | ${m('rssAfter3sMiB')} | ${m('hwmMiB')} | ${fmtMiB(m('du'))} |`;
});
console.log('| restart | messages | recoveryMs | spawn→listening ms | RSS at listen MiB | RSS +3 s MiB | VmHWM MiB | du MiB |');
console.log('|---|---|---|---|---|---|---|---|');
console.log(rows.join('\n'));
console.log(JSON.stringify({ fill: result.phases.fill, drain: result.phases.drain }, null, 1));
