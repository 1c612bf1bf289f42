#!/usr/bin/env node
// Measures what freshTokenInterceptor adds per request when the token is fresh: HttpClient with a
// synchronous in-memory backend, with and without the interceptor.
// Run after `npm run build`:
//   node bench/interceptor.mjs
import '@angular/compiler';
import { HttpBackend, HttpClient, HttpResponse, provideHttpClient, withInterceptors } from '@angular/common/http';
import { Injector, createEnvironmentInjector, provideZonelessChangeDetection, ɵINJECTOR_SCOPE } from '@angular/core';
import { of } from 'rxjs';
import { AuthService, freshTokenInterceptor, provideFreshToken, withTokenSource } from 'ngx-fresh-token';

const N = Number(process.env.N ?? 200_000);
let sourceCalls = 0;

function setup(withInterceptor) {
  const backend = { handle: (req) => of(new HttpResponse({ status: 200, body: req.headers.get('Authorization') })) };
  return createEnvironmentInjector(
    [
      { provide: ɵINJECTOR_SCOPE, useValue: 'root' },
      provideZonelessChangeDetection(),
      provideHttpClient(withInterceptors(withInterceptor ? [freshTokenInterceptor] : [])),
      { provide: HttpBackend, useValue: backend },
      provideFreshToken(
        withTokenSource({
          getToken: async () => {
            sourceCalls++;
            return { accessToken: `opaque-token-${sourceCalls}`, expiresAt: Date.now() + 3_600_000 };
          },
        }),
      ),
    ],
    Injector.NULL,
  );
}

function run(label, http, n) {
  let done = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) http.get('/api/items').subscribe(() => done++);
  const ns = Number(process.hrtime.bigint() - start);
  if (done !== n) throw new Error(`${label}: ${done}/${n} completed synchronously`);
  return ns / n;
}

const plain = setup(false);
const fresh = setup(true);
await fresh.get(AuthService).refresh(); // a token with an hour left
const callsBefore = sourceCalls;
const plainHttp = plain.get(HttpClient);
const freshHttp = fresh.get(HttpClient);
run('warm-up', plainHttp, 20_000);
run('warm-up', freshHttp, 20_000);
// Rounds alternate the two setups so machine noise hits both alike; medians are reported.
const ROUNDS = 7;
const rows = [];
for (let round = 0; round < ROUNDS; round++) {
  rows.push([run('plain', plainHttp, N), run('fresh', freshHttp, N)]);
}
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
const plainNs = median(rows.map((r) => r[0]));
const freshNs = median(rows.map((r) => r[1]));
const addedNs = median(rows.map((r) => r[1] - r[0]));
console.log(`requests per round: ${N}, median of ${ROUNDS} alternating rounds`);
console.log(`HttpClient, no interceptor:           ${plainNs.toFixed(0).padStart(6)} ns/request`);
console.log(`HttpClient + freshTokenInterceptor:   ${freshNs.toFixed(0).padStart(6)} ns/request (fresh token)`);
console.log(`added by the interceptor:             ${addedNs.toFixed(0).padStart(6)} ns/request`);
console.log(`token source calls during the runs:   ${sourceCalls - callsBefore}`);
plain.destroy();
fresh.destroy();
