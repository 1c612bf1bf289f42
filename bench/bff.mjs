#!/usr/bin/env node
// `npm run bench:bff`: ngx-fresh-token/bff's /session/token over real HTTP, with real processes on
// loopback: a real oidc-provider (tests/node/helpers/bff-idp.mjs, rotating refresh tokens with reuse
// detection) in this process, a redis-server of its own, and BFF processes
// (tests/node/helpers/bff-instance.mjs). Measures, for 200 signed-in sessions asking at once:
//   cached   /session/token with a cached access token: throughput, p50, p99 — memory store (1
//            process), Redis store (1 process), Redis store (3 processes, requests spread round-robin);
//   trips    Redis round trips per cached hit (MONITOR: commands sent by the BFF's connections;
//            the commands a Lua script runs inside Redis are not round trips);
//   storm    5 concurrent forced calls per session for the token it holds (X-Force-Refresh +
//            X-Replaces-Token), spread over the instances: redemptions at the IdP (goal: one per
//            session), invalid_grant (goal: 0), p99.
//   proxy    a small JSON API called by the same sessions directly, through a plain Node reverse
//            proxy (the floor: node:http in and out, nothing checked) and through the BFF's proxy
//            (apis.proxy, token type user: the session's cached token attached): throughput, p50,
//            p99, added p50 (goal ≤ 1 ms) and throughput vs direct (goal ≥ 0.7×); then a 200 MB upload
//            and a 200 MB download through the BFF with its peak RSS and the most it retained.
// Prints a table and writes bench/bff-results.json. Ratios are within this run; absolute figures
// hold for the machine named in the output (the load generator, the IdP, Redis and the BFFs share it).
//   node bench/bff.mjs [--quick] [--proxy-only [--streams]] [--angular-adapter] [--vs=path] [--json=path]     (after `npm run build`)
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createClient } from 'redis';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { ensureRedis, freeLoopbackPort } from '../scripts/ensure-redis.mjs';
import { BFF_CLIENTS, BFF_SCOPE, TEST_SECRETS, cookieJar, sessionCookieLines, signIn, startBffIdp, tokenHash } from '../tests/node/helpers/bff-idp.mjs';
import { spawnBffInstance } from '../tests/node/helpers/bff-instance.mjs';
import { startUpstream } from '../tests/node/helpers/upstream.mjs';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
// --proxy-only: only the proxy table (its sessions signed in on Redis), for profiling and side-by-side runs.
const proxyOnly = process.argv.includes('--proxy-only');
// --vs=<path of another build's fesm2022/ngx-fresh-token-bff.mjs, inside this checkout so its imports resolve>:
// a second BFF proxy on that build, loaded in turns with this one (3 rounds each), for before/after in one run.
const vsArg = process.argv.find((a) => a.startsWith('--vs='));
const vsModule = vsArg ? resolvePath(vsArg.slice(5)) : null;
// --angular-adapter: one more BFF proxy row, the BFF mounted with @angular/ssr/node's adapter
// (createWebRequestFromNodeRequest / writeResponseToNodeResponse) instead of the test helper's.
const angularAdapter = process.argv.includes('--angular-adapter');
// --streams: with --proxy-only, the 200 MB upload and download too (through handle() and handleNode()).
const streamsToo = process.argv.includes('--streams');
const jsonArg = process.argv.find((a) => a.startsWith('--json='));
const outFile = jsonArg ? jsonArg.slice(7) : join(here, 'bff-results.json');
const SESSIONS = quick ? 30 : 200;
const WARMUP_MS = quick ? 300 : 1_000;
// The proxy rows warm up longer: a BFF process fresh from its start measured up to a third more CPU per
// request in its first seconds under load (JIT, heap sizing) than in later rounds of the same run.
const PROXY_WARMUP_MS = quick ? 300 : 3_000;
const MEASURE_MS = quick ? 1_000 : 5_000;
const STORM_CALLS_PER_SESSION = 5;
const TRIPS_SAMPLE = quick ? 20 : 100;
const log = (...args) => console.error(...args);
const started = Date.now();

const redis = await ensureRedis({ env: { ...process.env, REDIS_URL: '' } }); // our own: MONITOR sees only the bench
const inspector = createClient({ url: redis.url });
inspector.on('error', () => undefined);
await inspector.connect();
const ports = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
const origins = ports.map((p) => `http://localhost:${p}`);
// 10-minute access tokens: in the cached runs nothing expires, so nothing redeems.
// oidc-provider's development adapter keeps 1 000 entries: 400 sign-ins would evict live grants.
const idpStorage = new LRU({ maxSize: 200_000 });
// The API the proxy table calls (a small JSON answer), up for the whole run: every instance proxies to it.
const upstream = await startUpstream();
const proxyTarget = upstream.origin;
// Plain http, as in the earlier runs of this bench (the tests reach the IdP over HTTPS).
// The proxied API's resource: the login asks for it (the proxy table's sessions are the cached runs' sessions).
const ORDERS = 'https://orders.bench.test';
const idp = await startBffIdp({ appOrigin: origins[0], accessTokenTtlSeconds: 600, adapter: (model) => new MemoryAdapter(model, idpStorage), tls: false, apis: { [ORDERS]: 'orders:read' } });
const running = new Set();
const results = { machine: machine(), sessions: SESSIONS, quick, cached: [], trips: null, storms: [], proxy: { rows: [], oneClient: [], streams: null }, errors: [] };

function machine() {
  const c = cpus();
  return { cpu: c[0]?.model ?? 'unknown', cores: c.length, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${process.arch}` };
}

const config = (i, store) => ({
  name: `bff-${i + 1}`,
  port: ports[i],
  issuer: idp.issuer,
  clientId: BFF_CLIENTS.client_secret_basic.clientId,
  clientSecret: BFF_CLIENTS.client_secret_basic.clientSecret,
  redirectUri: `${origins[0]}/auth/callback`,
  allowedOrigins: origins,
  scope: BFF_SCOPE,
  secrets: [TEST_SECRETS[0]],
  store,
  redisUrl: redis.url,
  client: i % 2 === 0 ? 'node-redis' : 'ioredis',
  prefix: 'nft-bench:',
  refreshBufferMs: 30_000,
  // The storms measure the lock: forced calls right after the login are not bounded here.
  minRefreshIntervalMs: 0,
  reportRequests: false,
  apis: { orders: { resource: ORDERS, proxy: { path: '/api/orders', target: `${proxyTarget}/v1`, token: 'user' } }, files: { proxy: { path: '/api/files', target: proxyTarget, token: 'none', methods: ['GET', 'POST'] } } },
});

async function startInstances(n, store, extra = {}) {
  const list = [];
  for (let i = 0; i < n; i++) {
    const b = await spawnBffInstance({ ...config(i, store), ...extra });
    running.add(b);
    list.push(b);
  }
  return list;
}

async function stopInstances(list) {
  for (const b of list) {
    await b.stop();
    running.delete(b);
  }
}

/** Signs in `n` sessions through instance 1 (the real 302 chain), 10 at a time; returns their cookie headers. */
async function signInSessions(first, n) {
  const sessions = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < n) {
        const i = next++;
        const jar = cookieJar();
        const { callback } = await signIn(jar, { origin: first.origin }, { loginHint: `bench${i}` });
        const id = sessionCookieLines(callback).set[0]?.value;
        if (!id) throw new Error(`sign-in ${i} set no session cookie (${callback.status})`);
        sessions[i] = { cookie: `__Host-nft-session=${id}`, token: null };
      }
    }),
  );
  return sessions;
}

/** One GET /session/token: { status, ms, accessToken }. */
async function tokenCall(origin, session, extra = {}) {
  const t0 = performance.now();
  const res = await fetch(`${origin}/session/token`, { headers: { cookie: session.cookie, 'x-csrf': '1', origin: origins[0], ...extra } });
  const body = await res.json().catch(() => null);
  return { status: res.status, ms: performance.now() - t0, accessToken: body?.accessToken };
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

/** Every session asks in a loop, all at once, for `ms`: throughput and latency of the cached path. */
async function cachedLoad(label, instances, sessions) {
  // Warm-up: every session holds its cached token, every connection is open.
  for (const [i, s] of sessions.entries()) if (!s.token) s.token = (await tokenCall(instances[i % instances.length].origin, s)).accessToken;
  const redemptionsBefore = idp.counts.refresh_token;
  const run = async (durationMs, record) => {
    const latencies = [];
    const statuses = {};
    const deadline = performance.now() + durationMs;
    let n = 0;
    await Promise.all(
      sessions.map(async (s, i) => {
        let k = i;
        while (performance.now() < deadline) {
          const r = await tokenCall(instances[k++ % instances.length].origin, s);
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          if (r.status === 200 && r.accessToken !== s.token) statuses.wrongToken = (statuses.wrongToken ?? 0) + 1;
          if (record) latencies.push(r.ms);
          n++;
        }
      }),
    );
    return { latencies, statuses, n };
  };
  await run(WARMUP_MS, false);
  const t0 = performance.now();
  const { latencies, statuses, n } = await run(MEASURE_MS, true);
  const elapsed = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const row = {
    label,
    instances: instances.length,
    requests: n,
    throughputPerSec: Math.round((n / elapsed) * 1000),
    p50Ms: +percentile(latencies, 50).toFixed(2),
    p99Ms: +percentile(latencies, 99).toFixed(2),
    statuses,
    redemptions: idp.counts.refresh_token - redemptionsBefore,
  };
  log(`  ${label}: ${row.throughputPerSec}/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms ${JSON.stringify(statuses)}`);
  results.cached.push(row);
  if (Object.keys(statuses).some((s) => s !== '200')) results.errors.push(`${label}: answers other than 200 with the cached token: ${JSON.stringify(statuses)}`);
  return row;
}

/** The plain Node reverse proxy (bench/lib/plain-proxy.mjs) in a process of its own: { origin, stop }. */
async function startPlainProxy(target) {
  const child = fork(join(here, 'lib', 'plain-proxy.mjs'), [], { env: { ...process.env, PLAIN_PROXY: JSON.stringify({ port: 0, target }) }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const [line] = await once(createInterface({ input: child.stdout }), 'line');
  return { origin: `http://127.0.0.1:${JSON.parse(line).port}`, pid: child.pid, stop: () => child.kill() };
}

/** CPU time (user + system) a process has used so far, in ms (Linux: /proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Every session calls `url` (a small JSON answer, `{}`) in a loop, all at once: throughput, p50, p99,
 * and, for a proxy (`pid`), the CPU time its process spent per request (steadier than throughput on a
 * machine the load generator shares).
 */
async function apiLoad(label, url, sessions, headersOf, pid = null, rows = results.proxy.rows) {
  const run = async (durationMs, record) => {
    const latencies = [];
    const statuses = {};
    const deadline = performance.now() + durationMs;
    let n = 0;
    await Promise.all(
      sessions.map(async (s) => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          const res = await fetch(url, { headers: headersOf(s) });
          await res.arrayBuffer();
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          if (record) latencies.push(performance.now() - t0);
          n++;
        }
      }),
    );
    return { latencies, statuses, n };
  };
  await run(PROXY_WARMUP_MS, false);
  const t0 = performance.now();
  const cpu0 = pid === null ? 0 : cpuMsOf(pid);
  const redisCpu0 = redis.pid ? cpuMsOf(redis.pid) : 0;
  const { latencies, statuses, n } = await run(MEASURE_MS, true);
  const elapsed = performance.now() - t0;
  const cpuUsPerRequest = pid === null ? null : Math.round(((cpuMsOf(pid) - cpu0) * 1000) / n);
  // Redis shares the 2 cores too: its CPU per request (the session read of the BFF rows; ~0 for the others).
  const redisCpuUsPerRequest = redis.pid ? Math.round(((cpuMsOf(redis.pid) - redisCpu0) * 1000) / n) : null;
  latencies.sort((a, b) => a - b);
  const row = { label, requests: n, throughputPerSec: Math.round((n / elapsed) * 1000), p50Ms: +percentile(latencies, 50).toFixed(2), p99Ms: +percentile(latencies, 99).toFixed(2), cpuUsPerRequest, redisCpuUsPerRequest, statuses };
  log(`  proxy ${label}: ${row.throughputPerSec}/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms${cpuUsPerRequest === null ? '' : `, ${cpuUsPerRequest} µs CPU per request`} ${JSON.stringify(statuses)}`);
  if (Object.keys(statuses).some((k) => k !== '200')) results.errors.push(`proxy ${label}: answers other than 200: ${JSON.stringify(statuses)}`);
  rows.push(row);
  return row;
}

/** 200 MB up and down through the BFF: its peak RSS (VmHWM) and the most it retained after a GC, sampled. */
async function proxyStreams(bff, label) {
  const MB = quick ? 20 : 200;
  const peak = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${bff.pid}/status`, 'utf8'))[1]) / 1024;
  let asked = 0;
  const retained = async () => {
    const at = ++asked;
    bff.send({ hook: 'memory', at });
    return (await bff.nextMessage((m) => m.memory?.at === at, 5_000, 'memory')).memory.retained / 2 ** 20;
  };
  const sampling = async (work) => {
    let max = 0;
    let on = true;
    const loop = (async () => {
      while (on) {
        max = Math.max(max, await retained());
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    try {
      await work();
    } finally {
      on = false;
      await loop;
    }
    return max;
  };
  const base = { peak: peak(), retained: await retained() };
  const headers = { 'x-csrf': '1', origin: bff.origin };
  const upMax = await sampling(
    () =>
      new Promise((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: bff.port, path: '/api/files/upload', method: 'POST', headers: { ...headers, host: `localhost:${bff.port}`, 'content-length': String(MB * 2 ** 20) } },
          (res) => res.resume().on('end', resolve),
        );
        req.on('error', reject);
        const chunk = Buffer.alloc(256 * 1024, 1);
        let left = (MB * 2 ** 20) / chunk.length;
        const pump = () => {
          while (left > 0) {
            left--;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      }),
  );
  const downMax = await sampling(async () => {
    const res = await fetch(`${bff.origin}/api/files/download?mb=${MB}`, { headers });
    for await (const _ of res.body);
  });
  const run = {
    label,
    megabytes: MB,
    peakRssBeforeMb: +base.peak.toFixed(1),
    peakRssAfterMb: +peak().toFixed(1),
    retainedBaselineMb: +base.retained.toFixed(1),
    retainedUploadMaxMb: +upMax.toFixed(1),
    retainedDownloadMaxMb: +downMax.toFixed(1),
  };
  (results.proxy.streamRuns ??= []).push(run);
  results.proxy.streams ??= run; // the first (handle()), as in earlier results files
  log(`  proxy streams: ${JSON.stringify(run)}`);
}

/** Redis round trips per cached hit: the commands the BFF's own connections send, seen by MONITOR. */
async function roundTripsPerHit(instance, sessions) {
  const monitor = createClient({ url: redis.url });
  monitor.on('error', () => undefined);
  await monitor.connect();
  const lines = [];
  await monitor.monitor((line) => lines.push(line));
  const sample = sessions.slice(0, TRIPS_SAMPLE);
  // MONITOR's own start is in the stream: wait for a marker command before counting.
  await inspector.sendCommand(['ECHO', 'nft-bench-start']);
  for (const s of sample) {
    const r = await tokenCall(instance.origin, s);
    if (r.status !== 200) results.errors.push(`round-trip sample: ${r.status}`);
  }
  await inspector.sendCommand(['ECHO', 'nft-bench-end']);
  await new Promise((r) => setTimeout(r, 100));
  await monitor.destroy();
  const startAt = lines.findIndex((l) => l.includes('nft-bench-start'));
  const endAt = lines.findIndex((l) => l.includes('nft-bench-end'));
  const window = lines.slice(startAt + 1, endAt);
  // A client's command is tagged with its address; a command run by a Lua script with "lua".
  const sent = window.filter((l) => !/\[\d+ lua\]/.test(l));
  const inScripts = window.length - sent.length;
  const byCommand = {};
  for (const l of sent) {
    const cmd = /"([^"]+)"/.exec(l)?.[1]?.toLowerCase() ?? '?';
    byCommand[cmd] = (byCommand[cmd] ?? 0) + 1;
  }
  results.trips = { hits: sample.length, roundTrips: sent.length, perHit: +(sent.length / sample.length).toFixed(2), insideScriptsPerHit: +(inScripts / sample.length).toFixed(2), byCommand };
  log(`  round trips per cached hit: ${results.trips.perHit} ${JSON.stringify(byCommand)}`);
}

/** Every session, at once, asks STORM_CALLS_PER_SESSION times for a new token in place of the one it holds. */
async function storm(label, instances, sessions) {
  const redemptions = idp.counts.refresh_token;
  const invalid = idp.counts.invalid_grant;
  const t0 = performance.now();
  const answers = await Promise.all(
    sessions.flatMap((s, i) =>
      Array.from({ length: STORM_CALLS_PER_SESSION }, (_, j) =>
        tokenCall(instances[(i + j) % instances.length].origin, s, { 'x-force-refresh': '1', 'x-replaces-token': tokenHash(s.token) }).then((r) => ({ ...r, i })),
      ),
    ),
  );
  const elapsed = performance.now() - t0;
  const latencies = answers.map((r) => r.ms).sort((a, b) => a - b);
  const statuses = {};
  for (const r of answers) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  let sessionsWithOneToken = 0;
  for (const [i, s] of sessions.entries()) {
    const tokens = new Set(answers.filter((r) => r.i === i).map((r) => r.accessToken));
    if (tokens.size === 1 && !tokens.has(s.token) && !tokens.has(undefined)) sessionsWithOneToken++;
    s.token = [...tokens][0] ?? s.token;
  }
  const row = {
    label,
    instances: instances.length,
    sessions: sessions.length,
    calls: answers.length,
    redemptions: idp.counts.refresh_token - redemptions,
    redemptionsPerSession: +((idp.counts.refresh_token - redemptions) / sessions.length).toFixed(2),
    invalidGrant: idp.counts.invalid_grant - invalid,
    sessionsWithOneNewToken: sessionsWithOneToken,
    p50Ms: +percentile(latencies, 50).toFixed(1),
    p99Ms: +percentile(latencies, 99).toFixed(1),
    totalMs: Math.round(elapsed),
    statuses,
  };
  log(`  ${label}: ${row.redemptions} redemptions for ${row.sessions} sessions, p99 ${row.p99Ms} ms ${JSON.stringify(statuses)}`);
  results.storms.push(row);
  if (row.redemptions !== sessions.length || row.invalidGrant !== 0 || statuses[200] !== answers.length) {
    results.errors.push(`${label}: ${row.redemptions} redemptions, ${row.invalidGrant} invalid_grant, statuses ${JSON.stringify(statuses)}`);
  }
}

/** The proxy table: direct, the floor and the BFF's proxy, side by side; then the same with one client (no queueing). */
function proxyTable() {
  const part = (rows, title) => {
    const [direct] = rows;
    return [
      `| ${title} | req/s | p50 ms | p99 ms | req/s vs direct | added p50 ms | proxy CPU µs per request | Redis CPU µs per request |`,
      '|---|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.label} | ${r.throughputPerSec} | ${r.p50Ms} | ${r.p99Ms} | ${(r.throughputPerSec / direct.throughputPerSec).toFixed(2)}× | ${(r.p50Ms - direct.p50Ms).toFixed(2)} | ${r.cpuUsPerRequest ?? '–'} | ${r.redisCpuUsPerRequest ?? '–'} |`),
    ];
  };
  const lines = part(results.proxy.rows, `Small JSON API, ${SESSIONS} concurrent clients`);
  if (results.proxy.oneClient.length) lines.push('', ...part(results.proxy.oneClient, 'Small JSON API, 1 client (one request at a time: the hop itself, no queueing)'));
  for (const s of results.proxy.streamRuns ?? []) {
    lines.push('', `Through the BFF's proxy (${s.label ?? 'bff.handle()'}), ${s.megabytes} MB up and ${s.megabytes} MB down: peak RSS ${s.peakRssBeforeMb} → ${s.peakRssAfterMb} MB; retained after GC ${s.retainedBaselineMb} MB, at most +${(s.retainedUploadMaxMb - s.retainedBaselineMb).toFixed(1)} MB during the upload, +${(s.retainedDownloadMaxMb - s.retainedBaselineMb).toFixed(1)} MB during the download.`);
  }
  return lines.join('\n');
}

function table() {
  const mem = results.cached.find((r) => r.label === 'memory');
  const lines = [
    `Machine: ${results.machine.cpu}, ${results.machine.cores} cores, Node ${results.machine.node}, Redis ${results.machine.redis} (load generator, IdP, Redis and BFFs on this one machine)`,
    '',
    `| /session/token, cached token, ${SESSIONS} concurrent sessions | processes | req/s | p50 ms | p99 ms | req/s vs memory | p50 vs memory |`,
    '|---|---|---|---|---|---|---|',
    ...results.cached.map(
      (r) => `| ${r.label} | ${r.instances} | ${r.throughputPerSec} | ${r.p50Ms} | ${r.p99Ms} | ${(r.throughputPerSec / mem.throughputPerSec).toFixed(2)}× | ${(r.p50Ms / mem.p50Ms).toFixed(2)}× |`,
    ),
    '',
    `Redis round trips per cached hit: ${results.trips.perHit} (${Object.entries(results.trips.byCommand).map(([c, n]) => `${c} ×${n}`).join(', ')} for ${results.trips.hits} hits; ${results.trips.insideScriptsPerHit} commands run inside the script per hit)`,
    '',
    `| Forced-refresh storm (${STORM_CALLS_PER_SESSION} calls per session, same held token) | processes | sessions | calls | redemptions | per session | invalid_grant | p50 ms | p99 ms |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...results.storms.map((r) => `| ${r.label} | ${r.instances} | ${r.sessions} | ${r.calls} | ${r.redemptions} | ${r.redemptionsPerSession} | ${r.invalidGrant} | ${r.p50Ms} | ${r.p99Ms} |`),
  ];
  if (results.proxy.rows.length >= 3) lines.push('', proxyTable());
  return lines.join('\n');
}

try {
  results.machine.redis = (await inspector.info('server')).match(/redis_version:(\S+)/)?.[1];

  let list;
  let sessions;
  if (proxyOnly) {
    log(`Redis store: signing in ${SESSIONS} sessions…`);
    list = await startInstances(1, 'redis');
    sessions = await signInSessions(list[0], SESSIONS);
    await stopInstances(list);
  } else {
  log(`memory store, 1 process: signing in ${SESSIONS} sessions…`);
  list = await startInstances(1, 'memory');
  sessions = await signInSessions(list[0], SESSIONS);
  await cachedLoad('memory', list, sessions);
  await storm('memory', list, sessions);
  await stopInstances(list);

  log(`Redis store: signing in ${SESSIONS} sessions…`);
  list = await startInstances(1, 'redis');
  sessions = await signInSessions(list[0], SESSIONS);
  await cachedLoad('redis', list, sessions);
  await roundTripsPerHit(list[0], sessions);
  await stopInstances(list);
  list = await startInstances(3, 'redis'); // the same sessions: they live in Redis
  await cachedLoad('redis, 3 instances', list, sessions);
  await storm('redis, 3 instances', list, sessions);
  await stopInstances(list);
  }

  log('proxy: direct vs a plain Node reverse proxy vs the BFF’s proxy…');
  const plain = await startPlainProxy(`${upstream.origin}/v1`);
  // The BFF on Redis again (the same sessions), proxying /api/orders with the session's token, /api/files with none.
  list = await startInstances(1, 'redis');
  try {
    await apiLoad('direct (no proxy)', `${upstream.origin}/status/200`, sessions, () => ({}));
    await apiLoad('plain Node reverse proxy (floor)', `${plain.origin}/status/200`, sessions, () => ({}), plain.pid);
    await apiLoad('ngx-fresh-token/bff proxy (token type user)', `${list[0].origin}/api/orders/status/200`, sessions, (s) => ({ cookie: s.cookie, 'x-csrf': '1', origin: origins[0] }), list[0].pid);
    // The same BFF answering through bff.handleNode(req, res): node:http in and out, no Web Request/Response.
    const nodeFront = await spawnBffInstance({ ...config(3, 'redis'), client: 'node-redis', front: 'node' });
    running.add(nodeFront);
    await apiLoad('ngx-fresh-token/bff proxy, bff.handleNode()', `${nodeFront.origin}/api/orders/status/200`, sessions, (s) => ({ cookie: s.cookie, 'x-csrf': '1', origin: origins[0] }), nodeFront.pid);
    // The same without the session: token type none (no store read, no token): what the session read costs.
    await apiLoad('ngx-fresh-token/bff proxy, bff.handleNode(), token type none', `${nodeFront.origin}/api/files/status/200`, sessions, () => ({ 'x-csrf': '1', origin: origins[0] }), nodeFront.pid);
    // One client, one request at a time: what the hop itself adds, without the queueing of 200 clients on 2 cores.
    const one = sessions.slice(0, 1);
    await apiLoad('direct (no proxy), 1 client', `${upstream.origin}/status/200`, one, () => ({}), null, results.proxy.oneClient);
    await apiLoad('plain Node reverse proxy (floor), 1 client', `${plain.origin}/status/200`, one, () => ({}), plain.pid, results.proxy.oneClient);
    await apiLoad('ngx-fresh-token/bff proxy (token type user), 1 client', `${list[0].origin}/api/orders/status/200`, one, (s) => ({ cookie: s.cookie, 'x-csrf': '1', origin: origins[0] }), list[0].pid, results.proxy.oneClient);
    await apiLoad('ngx-fresh-token/bff proxy, bff.handleNode(), 1 client', `${nodeFront.origin}/api/orders/status/200`, one, (s) => ({ cookie: s.cookie, 'x-csrf': '1', origin: origins[0] }), nodeFront.pid, results.proxy.oneClient);
    if (angularAdapter) {
      const angular = await spawnBffInstance({ ...config(2, 'redis'), client: 'node-redis', adapter: 'angular' });
      running.add(angular);
      await apiLoad('ngx-fresh-token/bff proxy, Angular SSR adapter', `${angular.origin}/api/orders/status/200`, sessions, (s) => ({ cookie: s.cookie, 'x-csrf': '1', origin: origins[0] }), angular.pid);
    }
    if (vsModule) {
      const other = await spawnBffInstance({ ...config(1, 'redis'), client: 'node-redis', module: vsModule });
      running.add(other);
      const builds = [
        ['this build', list[0]],
        ['--vs build', other],
      ];
      for (let round = 1; round <= 3; round++) {
        for (const [label, b] of builds) await apiLoad(`${label}, round ${round}`, `${b.origin}/api/orders/status/200`, sessions, (s) => ({ cookie: s.cookie, 'x-csrf': '1', origin: origins[0] }), b.pid);
      }
    }
    if (!proxyOnly || streamsToo) {
      await proxyStreams(list[0], 'bff.handle() behind the adapter');
      await proxyStreams(nodeFront, 'bff.handleNode()');
    }
  } finally {
    plain.stop();
    await stopInstances(list);
  }
} catch (err) {
  results.errors.push(String(err?.stack ?? err));
} finally {
  for (const b of running) await b.stop();
  await upstream.close();
  await inspector.destroy();
  await idp.close();
  await redis.stop();
}

results.durationMs = Date.now() - started;
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
if (results.cached.length === 3 && results.trips) console.log(table());
else if (proxyOnly && results.proxy.rows.length >= 3) console.log(proxyTable());
log(`\nwrote ${outFile} in ${(results.durationMs / 1000).toFixed(1)} s`);
if (results.errors.length) {
  console.error(`errors:\n${results.errors.join('\n')}`);
  process.exit(1);
}
