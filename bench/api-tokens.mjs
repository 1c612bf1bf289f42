#!/usr/bin/env node
// Tokens per API (#25): the interceptor's per-request overhead with 3 tokens and 20 URL rules against
// a single token with one rule, side by side in one run. HttpClient over a synchronous in-memory
// backend (as bench/overhead.mjs), fresh tokens, every request carrying a token. Setups:
//   - "1 token, 1 rule":   provideFreshToken(withTokenSource(...), withAuthorizedUrls(API));
//   - "3 tokens, 20 rules": the default token with 7 rules (API among them) and two withApiToken()s
//     with 7 and 6 rules (prefixes on the same API, longer ones that win for their paths, other hosts,
//     a RegExp and a function rule), requests to the same URLs as the single token's (all decided among
//     the 20 rules; they go to the default token);
//   - "3 tokens, 20 rules, spread": the same providers, requests spread over the three tokens
//     (one third each).
// Two URL sets: one URL, and 1 000 distinct URLs (cycled). Rounds alternate the setups in a rotating
// order; times are the process's CPU time (user + system, so other jobs on a shared machine do not
// count); "added" is the median over rounds of (setup − HttpClient alone) in the same round, and the
// ratio is added(3 tokens) ÷ added(1 token), both medians.
//   node bench/api-tokens.mjs [--quick] [--json=out.json]      (after `npm run build`)
import '@angular/compiler';
import { writeFileSync } from 'node:fs';
import { HttpBackend, HttpClient, HttpResponse, provideHttpClient, withInterceptors } from '@angular/common/http';
import { DOCUMENT, Injector, PLATFORM_ID, createEnvironmentInjector, provideZonelessChangeDetection, runInInjectionContext, ɵINJECTOR_SCOPE } from '@angular/core';
import { of } from 'rxjs';
import { AuthService, freshTokenInterceptor, injectAuth, provideFreshToken, withApiToken, withAuthorizedUrls, withTokenSource } from 'ngx-fresh-token';
import { jwtExp, makeJwt } from './lib/token-server.mjs';

const quick = process.argv.includes('--quick');
const jsonArg = process.argv.find((a) => a.startsWith('--json='));
const N = Number(process.env.N ?? (quick ? 10_000 : 50_000));
const ROUNDS = Number(process.env.ROUNDS ?? (quick ? 3 : 21));
const WARMUP = quick ? 5_000 : 20_000;
const BATCH = 1_000;
const PAGE = 'http://localhost:4200/';
const API = 'https://api.example.com';
const REPORTS = 'https://reports.example.com';
const EVENTS = 'https://events.example.com';
const log = (...args) => console.error(...args);

/** The same URLs for the single token and the 3-token table: all go to the default token. */
const SAME = {
  oneUrl: [`${API}/items`],
  thousandUrls: Array.from({ length: 1_000 }, (_, i) => `${API}/items/${i}`),
};
/** Spread over the three tokens of the table, a third each. */
const SPREAD = {
  oneUrl: [`${API}/items`],
  thousandUrls: Array.from({ length: 1_000 }, (_, i) => [`${API}/items/${i}`, `${REPORTS}/v1/r/${i}`, `${EVENTS}/live/${i}`][i % 3]),
};

// 20 rules over three tokens: 7 + 7 + 6.
const DEFAULT_RULES = [API, 'https://api2.example.com', 'https://api3.example.com/v2', '/api', '/graphql', 'https://files.example.com/upload', /^https:\/\/cdn[0-9]+\.example\.com\/signed\//];
const REPORTS_RULES = [REPORTS, `${API}/reports`, { url: `${API}/exports`, methods: ['GET'] }, 'https://reports-eu.example.com', 'https://reports-us.example.com', '/api/reports', (url) => url.hostname.endsWith('.reports.example.net')];
const EVENTS_RULES = [EVENTS, `${API}/events`, 'https://events-eu.example.com', '/api/events', /^https:\/\/[a-z0-9]+\.appsync-api\.[a-z0-9-]+\.amazonaws\.com\//, { url: `${API}/stream`, methods: ['GET', 'POST'] }];
if (DEFAULT_RULES.length + REPORTS_RULES.length + EVENTS_RULES.length !== 20) throw new Error('20 rules expected');

let lastAuthorization;
let capture = false;
const backend = {
  handle(req) {
    if (capture) lastAuthorization = req.headers.get('Authorization');
    return of(new HttpResponse({ status: 200, body: null, url: req.url }));
  },
};

const tokens = { default: makeJwt({ lifetimeSec: 3600, n: 1 }), reports: makeJwt({ lifetimeSec: 3600, n: 2 }), events: makeJwt({ lifetimeSec: 3600, n: 3 }) };
const counters = { sourceCalls: 0 };
const source = () => withTokenSource({ getToken: async () => (counters.sourceCalls++, null) });

function injectorFor(freshToken) {
  return createEnvironmentInjector(
    [
      { provide: ɵINJECTOR_SCOPE, useValue: 'root' },
      provideZonelessChangeDetection(),
      { provide: DOCUMENT, useValue: { location: new URL(PAGE), baseURI: PAGE, getElementById: () => null } },
      { provide: PLATFORM_ID, useValue: 'browser' },
      provideHttpClient(withInterceptors([freshTokenInterceptor])),
      freshToken,
      { provide: HttpBackend, useValue: backend },
    ],
    Injector.NULL,
  );
}
const hold = (auth, token) => auth.setGrant({ accessToken: token, expiresAt: jwtExp(token) * 1000 });

function plainSetup() {
  const injector = createEnvironmentInjector(
    [{ provide: ɵINJECTOR_SCOPE, useValue: 'root' }, provideZonelessChangeDetection(), provideHttpClient(), { provide: HttpBackend, useValue: backend }],
    Injector.NULL,
  );
  return { name: 'HttpClient alone', injector, http: injector.get(HttpClient), urls: SAME };
}

function singleSetup() {
  const injector = injectorFor(provideFreshToken(source(), withAuthorizedUrls(API)));
  hold(injector.get(AuthService), tokens.default);
  return { name: '1 token, 1 rule', injector, http: injector.get(HttpClient), urls: SAME };
}

function tableSetup(name, urls) {
  const injector = injectorFor(
    provideFreshToken(source(), withAuthorizedUrls(...DEFAULT_RULES), withApiToken('reports', REPORTS_RULES, source()), withApiToken('events', EVENTS_RULES, source())),
  );
  hold(injector.get(AuthService), tokens.default);
  runInInjectionContext(injector, () => {
    hold(injectAuth('reports'), tokens.reports);
    hold(injectAuth('events'), tokens.events);
  });
  return { name, injector, http: injector.get(HttpClient), urls };
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
  // CPU time of this process (user + system), not wall time: on a shared machine the time other jobs
  // hold the cores does not count (GC threads' work does: it is part of the cost).
  const start = process.cpuUsage();
  for (let i = 0; i < n; i += BATCH) {
    const end = Math.min(n, i + BATCH);
    for (let j = i; j < end; j++) http.get(urls[j % urls.length]).subscribe(observer);
    if (done < end) {
      target = end;
      await new Promise((resolve) => (wake = resolve));
    }
  }
  const { user, system } = process.cpuUsage(start);
  const ns = ((user + system) * 1000) / n;
  if (failed) throw new Error(`${failed} of ${n} requests failed`);
  return ns;
}

const plain = plainSetup();
const single = singleSetup();
const table = tableSetup('3 tokens, 20 rules', SAME);
const spread = tableSetup('3 tokens, 20 rules, spread', SPREAD);
const setups = [plain, single, table, spread];

// Every request of the measured setups carries the token it should (and HttpClient alone none).
const expected = (s, url) => {
  if (s === plain) return null;
  if (url.startsWith(REPORTS)) return `Bearer ${tokens.reports}`;
  if (url.startsWith(EVENTS)) return `Bearer ${tokens.events}`;
  return `Bearer ${tokens.default}`;
};
capture = true;
for (const s of setups) {
  for (const urls of Object.values(s.urls)) {
    for (const url of urls.slice(0, 3)) {
      lastAuthorization = undefined;
      await run(s.http, [url], 1);
      if (lastAuthorization !== expected(s, url)) throw new Error(`${s.name}: ${url} carried ${lastAuthorization?.slice(0, 20) ?? 'nothing'}, expected ${expected(s, url)?.slice(0, 20) ?? 'nothing'}`);
    }
  }
}
capture = false;

for (const s of setups) for (const urls of Object.values(s.urls)) await run(s.http, urls, WARMUP);
const sets = Object.keys(SAME);
const samples = new Map(setups.map((s) => [s, Object.fromEntries(sets.map((k) => [k, []]))]));
const started = Date.now();
for (let round = 0; round < ROUNDS; round++) {
  const order = setups.map((_, i) => setups[(i + round) % setups.length]);
  for (const s of order) for (const set of sets) samples.get(s)[set].push(await run(s.http, s.urls[set], N));
  log(`  round ${round + 1}/${ROUNDS} done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const addedIn = (s, set) => samples.get(s)[set].map((v, i) => v - samples.get(plain)[set][i]);
const rows = setups.map((s) => {
  const row = { name: s.name };
  for (const set of sets) {
    row[set] = { nsPerRequest: +median(samples.get(s)[set]).toFixed(1) };
    if (s !== plain) row[set].addedNs = +median(addedIn(s, set)).toFixed(1);
    if (s === table || s === spread) {
      // Ratio of the medians (a per-round ratio swings wildly when a round's noise eats the difference).
      row[set].ratioToSingle = +(median(addedIn(s, set)) / median(addedIn(single, set))).toFixed(2);
    }
  }
  return row;
});
const result = { timing: 'process CPU time (user + system)', requestsPerRound: N, rounds: ROUNDS, batch: BATCH, rules: 20, tokens: 3, sourceCalls: counters.sourceCalls, rows };
for (const s of setups) s.injector.destroy();
if (jsonArg) writeFileSync(jsonArg.slice(7), `${JSON.stringify(result, null, 2)}\n`);
else console.log(JSON.stringify(result, null, 2));
