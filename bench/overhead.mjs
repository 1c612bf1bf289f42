#!/usr/bin/env node
// Per-request overhead with a fresh token: HttpClient over a synchronous in-memory backend, alone
// and with each library's interceptor, with one URL and with 1 000 distinct URLs. Rounds alternate
// the setups (in a rotating order) so machine noise hits all alike; medians are reported, and
// "added" is the median over rounds of (library − HttpClient alone) measured in the same round.
// Requests are sent in batches of 1 000; a library whose fresh path goes through a promise
// completes a batch a few microtasks later and is awaited (its time includes that).
//   node bench/overhead.mjs [--quick] [--json=out.json]       (after `npm run build`)
import '@angular/compiler';
import { writeFileSync } from 'node:fs';
import { HttpResponse } from '@angular/common/http';
import { of } from 'rxjs';
import { FLOORS, LIBRARIES, PLAIN } from './lib/libraries.mjs';
import { makeJwt, startTokenServer } from './lib/token-server.mjs';

const quick = process.argv.includes('--quick');
const jsonArg = process.argv.find((a) => a.startsWith('--json='));
const N = Number(process.env.N ?? (quick ? 10_000 : 100_000));
const ROUNDS = Number(process.env.ROUNDS ?? (quick ? 3 : 7));
const WARMUP = quick ? 5_000 : 20_000;
const BATCH = 1_000;
const API = 'https://api.example.com';
const URL_SETS = {
  oneUrl: [`${API}/items`],
  thousandUrls: Array.from({ length: 1_000 }, (_, i) => `${API}/items/${i}`),
};
const log = (...args) => console.error(...args);

const server = await startTokenServer({ tokenLatencyMs: 0 });
let lastAuthorization;
let capture = false;
const backend = {
  handle(req) {
    if (capture) lastAuthorization = req.headers.get('Authorization');
    return of(new HttpResponse({ status: 200, body: null, url: req.url }));
  },
};

const token = makeJwt({ lifetimeSec: 3600 });
const setups = [];
for (const lib of [PLAIN, ...LIBRARIES, ...FLOORS]) {
  try {
    const s = await lib.setup({ api: API, server, backend, token });
    setups.push({ lib, ...s });
  } catch (err) {
    setups.push({ lib, error: `setup failed: ${err?.message ?? err}` });
    log(`${lib.name}: setup failed: ${err?.stack ?? err}`);
  }
}

async function run(http, urls, n) {
  let done = 0;
  let failed = 0;
  let target = 0;
  let wake = null;
  const finish = () => {
    if (++done === target && wake) {
      const w = wake;
      wake = null;
      w();
    }
  };
  const observer = { next() {}, error: () => (failed++, finish()), complete: finish };
  let synchronous = true;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i += BATCH) {
    const end = Math.min(n, i + BATCH);
    for (let j = i; j < end; j++) http.get(urls[j % urls.length]).subscribe(observer);
    if (done < end) {
      synchronous = false;
      target = end;
      await new Promise((resolve) => (wake = resolve));
    }
  }
  const ns = Number(process.hrtime.bigint() - start) / n;
  if (failed) throw new Error(`${failed} of ${n} requests failed`);
  return { ns, synchronous };
}

// Check that every library really attaches the token to both URL sets (and HttpClient alone does not).
const live = setups.filter((s) => !s.error);
for (const s of live) {
  capture = true;
  s.attaches = {};
  for (const [set, urls] of Object.entries(URL_SETS)) {
    lastAuthorization = undefined;
    await run(s.http, [urls[urls.length - 1]], 1);
    s.attaches[set] = lastAuthorization;
  }
  capture = false;
  const expected = s.lib === PLAIN ? null : `Bearer ${s.keycloak ? s.keycloak.token : token}`;
  for (const [set, got] of Object.entries(s.attaches)) {
    if (got !== expected) s.error = `sent Authorization ${JSON.stringify(got?.slice(0, 20))} for ${set}, expected ${expected === null ? 'none' : 'the token'}`;
  }
}

const measured = setups.filter((s) => !s.error);
const countersBefore = new Map(measured.map((s) => [s, { ...s.counters }]));
for (const s of measured) for (const urls of Object.values(URL_SETS)) await run(s.http, urls, WARMUP);
const samples = new Map(measured.map((s) => [s, { oneUrl: [], thousandUrls: [], synchronous: true }]));
const started = Date.now();
for (let round = 0; round < ROUNDS; round++) {
  const order = measured.map((_, i) => measured[(i + round) % measured.length]);
  for (const s of order) {
    for (const [set, urls] of Object.entries(URL_SETS)) {
      const r = await run(s.http, urls, N);
      samples.get(s)[set].push(r.ns);
      samples.get(s).synchronous &&= r.synchronous;
    }
  }
  log(`  round ${round + 1}/${ROUNDS} done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const plain = measured.find((s) => s.lib === PLAIN);
const rows = setups.map((s) => {
  if (s.error) return { name: s.lib.name, label: s.lib.label, error: s.error };
  const own = samples.get(s);
  const row = { name: s.lib.name, label: s.lib.label, synchronous: own.synchronous };
  for (const set of Object.keys(URL_SETS)) {
    row[set] = {
      nsPerRequest: +median(own[set]).toFixed(1),
      addedNs: s === plain ? 0 : +median(own[set].map((v, i) => v - samples.get(plain)[set][i])).toFixed(1),
    };
  }
  const before = countersBefore.get(s);
  row.counterDeltas = Object.fromEntries(Object.entries(s.counters).map(([k, v]) => [k, v - before[k]]));
  return row;
});
const floorNames = new Set(FLOORS.map((f) => f.name));
const peers = rows.filter((r) => !r.error && r.name !== PLAIN.name && r.name !== 'ngx-fresh-token' && !floorNames.has(r.name));
for (const set of Object.keys(URL_SETS)) {
  const fastest = peers.reduce((best, r) => (!best || r[set].addedNs < best[set].addedNs ? r : best), null);
  for (const r of rows) {
    if (r.error || r.name === PLAIN.name || !fastest) continue;
    r[set].ratioToFastestPeer = +(r[set].addedNs / fastest[set].addedNs).toFixed(2);
    r[set].fastestPeer = fastest.name;
  }
  // × the floor (#24): the same "added" divided by the floor's, for every row, both floors.
  for (const f of FLOORS) {
    const floor = rows.find((r) => r.name === f.name && !r.error);
    for (const r of rows) {
      if (r.error || r.name === PLAIN.name || !floor) continue;
      (r[set].ratioToFloors ??= {})[f.name] = +(r[set].addedNs / floor[set].addedNs).toFixed(2);
    }
  }
}
const result = { requestsPerRound: N, rounds: ROUNDS, batch: BATCH, api: API, rows };
for (const s of live) s.injector.destroy();
server.close();
if (jsonArg) writeFileSync(jsonArg.slice(7), `${JSON.stringify(result, null, 2)}\n`);
else console.log(JSON.stringify(result, null, 2));
