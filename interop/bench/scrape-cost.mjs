#!/usr/bin/env node
// What a Prometheus scrape (and a page of groups) costs the broker (issue 13), with 1,000 queues and with
// 1,000,000 groups:
//
//   npm run build && node interop/bench/scrape-cost.mjs [--seconds 10] [--groups 1000000] [--queues 1000]
//
// Starts `convoy start` (in-memory store) as a child process. For each scenario it measures:
//   - the broker's CPU time per scrape (from /proc/PID/stat over 40 scrapes back to back, nothing else
//     running on the broker): what a scrape costs whatever else the machine does;
//   - with a load client in another process (one producer, one consumer with credit 1000, accepting,
//     100-byte messages through queue `load` as fast as the broker lets them), its message rate over
//     --seconds in three rounds of: baseline (no scrapes), GET /metrics once a second (Prometheus'
//     default is every 15 s), GET /metrics back to back (the worst case); each scrape's wall time; and the
//     rates as ratios of the round's baseline (median of the rounds).
// Scenario `queues`: N queues, one message each. Scenario `groups`: one queue holding M groups (one queued
// message each, no consumer) besides those queues, plus the time of GET /api/queues/NAME/groups pages.
// Writes interop/bench/results/scrape-cost.json.
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberOption } from './support.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const rhea = require(path.join(ROOT, 'node_modules', 'rhea'));

const args = process.argv.slice(2);
const SECONDS = numberOption('--seconds', 10);
const QUEUES = numberOption('--queues', 1000);
const GROUPS = numberOption('--groups', 1_000_000);

if (args[0] === '--load') {
  runLoad(Number(args[1]));
} else {
  await main();
}

/** The load client (a child process): reports messages received per second to its parent. */
function runLoad(port) {
  const connection = rhea.create_container({ id: 'scrape-load' }).connect({ host: '127.0.0.1', port, reconnect: false });
  const body = Buffer.alloc(100, 1);
  const sender = connection.open_sender({ target: 'load', autosettle: true });
  const receiver = connection.open_receiver({ source: 'load', credit_window: 1000, autoaccept: true });
  let received = 0;
  receiver.on('message', () => received++);
  const pump = () => {
    while (sender.sendable()) sender.send({ body });
  };
  sender.on('sendable', pump);
  setInterval(() => {
    process.send({ received });
    received = 0;
  }, 1000);
}

async function main() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'convoy-scrape-'));
  const configFile = path.join(dataDir, 'convoy.json');
  writeFileSync(configFile, JSON.stringify({ store: 'memory', logLevel: 'info', producerCreditWindow: 1000 }));
  const broker = spawn(process.execPath, [path.join(ROOT, 'bin', 'convoy'), 'start', '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const { amqpPort, httpPort } = await brokerPorts(broker);
  const results = { date: new Date().toISOString(), cpus: os.cpus().length, loadAverage: os.loadavg(), seconds: SECONDS, scenarios: [] };
  try {
    const rates = [];
    const startLoad = async () => {
      const load = fork(fileURLToPath(import.meta.url), ['--load', String(amqpPort)]);
      load.on('message', (m) => rates.push(m.received));
      await sleep(3000); // warm up
      return load;
    };
    const cpuPerScrape = async () => {
      for (let i = 0; i < 5; i++) await get(httpPort, '/metrics');
      const before = cpuMillis(broker.pid);
      const scrapes = 40;
      for (let i = 0; i < scrapes; i++) await get(httpPort, '/metrics');
      return round((cpuMillis(broker.pid) - before) / scrapes);
    };
    const measure = async (label, scraping) => {
      rates.length = 0;
      const scrapes = [];
      let stop = false;
      const scraper = (async () => {
        while (!stop && scraping !== 'none') {
          const started = performance.now();
          await get(httpPort, '/metrics');
          scrapes.push(performance.now() - started);
          if (scraping === 'every-second') await sleep(Math.max(0, 1000 - (performance.now() - started)));
        }
      })();
      await sleep(SECONDS * 1000 + 200);
      stop = true;
      await scraper;
      const counted = rates.slice(0, SECONDS);
      const rate = counted.reduce((a, b) => a + b, 0) / counted.length;
      return { label, scraping, messagesPerSecond: Math.round(rate), scrapeTimes: scrapes };
    };
    const scenario = async (name, extra = {}) => {
      const brokerCpuMsPerScrape = await cpuPerScrape();
      const load = await startLoad();
      const rounds = [];
      for (let i = 0; i < 3; i++) {
        const baseline = await measure(`${name}: baseline`, 'none');
        const everySecond = await measure(`${name}: scrape every 1 s`, 'every-second');
        const continuous = await measure(`${name}: scrape back to back`, 'continuous');
        rounds.push({ baseline, everySecond, continuous });
      }
      load.kill();
      const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
      const metricsText = await get(httpPort, '/metrics');
      const entry = {
        name,
        series: metricsText.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length,
        scrapeBytes: Buffer.byteLength(metricsText),
        brokerCpuMsPerScrape,
        baselineMessagesPerSecond: median(rounds.map((r) => r.baseline.messagesPerSecond)),
        everySecondRatio: round(median(rounds.map((r) => r.everySecond.messagesPerSecond / r.baseline.messagesPerSecond))),
        continuousRatio: round(median(rounds.map((r) => r.continuous.messagesPerSecond / r.baseline.messagesPerSecond))),
        scrapeWallMsEverySecond: summary(rounds.flatMap((r) => r.everySecond.scrapeTimes)),
        scrapeWallMsContinuous: summary(rounds.flatMap((r) => r.continuous.scrapeTimes)),
        rounds: rounds.map((r) => ({
          baseline: r.baseline.messagesPerSecond,
          everySecond: r.everySecond.messagesPerSecond,
          continuous: r.continuous.messagesPerSecond,
        })),
        ...extra,
      };
      results.scenarios.push(entry);
      console.log(JSON.stringify(entry));
    };

    await fill(amqpPort, Array.from({ length: QUEUES }, (_, i) => ({ to: `queue-${String(i).padStart(4, '0')}`, body: 'x' })), 'queues');
    await scenario(`${QUEUES} queues`);

    const groupsSent = [];
    for (let start = 0; start < GROUPS; start += 50_000) {
      const count = Math.min(50_000, GROUPS - start);
      await fill(amqpPort, Array.from({ length: count }, (_, i) => ({ to: 'groups', group_id: `account-${String(start + i).padStart(7, '0')}`, body: 'x' })), 'groups');
      groupsSent.push(count);
    }
    const pages = {};
    for (const [label, query] of [
      ['first page of 100', 'limit=100'],
      ['page of 100 after a group in the middle', `limit=100&after=account-${String(Math.floor(GROUPS / 2)).padStart(7, '0')}`],
      ['prefix matching 10 groups at the end (one request looks at 100,000 groups)', `limit=100&prefix=account-${String(GROUPS - 10).padStart(7, '0').slice(0, -1)}`],
    ]) {
      const times = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        await get(httpPort, `/api/queues/groups/groups?${query}`);
        times.push(performance.now() - started);
      }
      pages[label] = summary(times);
    }
    await scenario(`${GROUPS.toLocaleString('en')} groups (plus ${QUEUES} queues)`, { groupsPageMs: pages });
  } finally {
    broker.kill('SIGTERM');
  }
  mkdirSync(path.join(ROOT, 'interop', 'bench', 'results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'interop', 'bench', 'results', 'scrape-cost.json'), `${JSON.stringify(results, null, 2)}\n`);
}

/** Sends the messages through the anonymous relay (each names its queue in `to`) and waits for every acceptance. */
function fill(port, messages, what) {
  return new Promise((resolve, reject) => {
    const connection = rhea.create_container({ id: `scrape-fill-${what}` }).connect({ host: '127.0.0.1', port, reconnect: false });
    const sender = connection.open_sender({ target: {} });
    let next = 0;
    let accepted = 0;
    sender.on('sendable', () => {
      while (next < messages.length && sender.sendable()) sender.send(messages[next++]);
    });
    sender.on('accepted', () => {
      if (++accepted === messages.length) {
        connection.close();
        resolve();
      }
    });
    sender.on('rejected', (ctx) => reject(new Error(`rejected: ${JSON.stringify(ctx.delivery.remote_state)}`)));
  });
}

function brokerPorts(child) {
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const amqp = /"port":(\d+),"msg":"listening"/.exec(output);
      const web = /"httpPort":(\d+)/.exec(output);
      if (amqp && web) resolve({ amqpPort: Number(amqp[1]), httpPort: Number(web[1]) });
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${output}`)));
  });
}

function get(port, urlPath) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => (response.statusCode === 200 ? resolve(text) : reject(new Error(`${urlPath}: HTTP ${response.statusCode} ${text}`))));
      })
      .on('error', reject);
  });
}

/** CPU time (user + system) the process has used, in ms (Linux /proc; clock ticks of 10 ms). */
function cpuMillis(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function summary(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]) };
}

function round(value) {
  return Math.round(value * 100) / 100;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
