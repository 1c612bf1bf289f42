#!/usr/bin/env node
// How long requests wait on a refresh in a storm: 1 000 concurrent HttpClient requests while the
// token is 20 s from expiry (inside the 30 s buffer), with a real loopback token endpoint that
// answers after 200 ms. "before" is the old rule (everything inside the buffer waits), which
// `withMinValidity(30_000)` reproduces exactly; "after" is the default (min validity 10 s).
// Run after `npm run build` (also part of `npm run bench`):
//   node bench/refresh-wait.mjs [--json=out.json]       (default out: bench/refresh-wait.json)
import '@angular/compiler';
import { HttpBackend, HttpClient, HttpResponse, provideHttpClient, withInterceptors } from '@angular/common/http';
import { Injector, createEnvironmentInjector, provideZonelessChangeDetection, ɵINJECTOR_SCOPE } from '@angular/core';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { of } from 'rxjs';
import { AuthService, freshTokenInterceptor, provideFreshToken, withMinValidity, withTokenSource } from 'ngx-fresh-token';

const REQUESTS = Number(process.env.N ?? 1_000);
const ENDPOINT_LATENCY_MS = 200;
let issued = 0;
let endpointCalls = 0;

const server = createServer((req, res) => {
  endpointCalls++;
  setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ accessToken: `opaque-${++issued}`, expiresAt: Date.now() + 3_600_000 }));
  }, ENDPOINT_LATENCY_MS);
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const tokenUrl = `http://127.0.0.1:${server.address().port}/token`;

function setup(features) {
  const backend = { handle: () => of(new HttpResponse({ status: 200, body: 'ok' })) };
  return createEnvironmentInjector(
    [
      { provide: ɵINJECTOR_SCOPE, useValue: 'root' },
      provideZonelessChangeDetection(),
      provideHttpClient(withInterceptors([freshTokenInterceptor])),
      { provide: HttpBackend, useValue: backend },
      provideFreshToken(withTokenSource({ getToken: () => fetch(tokenUrl).then((r) => r.json()) }), ...features),
    ],
    Injector.NULL,
  );
}

async function storm(label, features) {
  const injector = setup(features);
  const auth = injector.get(AuthService);
  const http = injector.get(HttpClient);
  // A token with 20 s left: inside the 30 s buffer, above the 10 s default min validity.
  auth.setGrant({ accessToken: 'opaque-start', expiresAt: Date.now() + 20_000 });
  const callsBefore = endpointCalls;
  const waits = [];
  await Promise.all(
    Array.from({ length: REQUESTS }, () => {
      const start = performance.now();
      return new Promise((resolve) => http.get('/api/items').subscribe({ next: () => waits.push(performance.now() - start), complete: resolve }));
    }),
  );
  // Let a background refresh finish before counting source calls.
  while (auth.state().refreshing) await new Promise((r) => setTimeout(r, 10));
  injector.destroy();
  waits.sort((a, b) => a - b);
  const pct = (p) => waits[Math.min(waits.length - 1, Math.floor((p / 100) * waits.length))];
  return {
    label,
    requests: REQUESTS,
    sourceCalls: endpointCalls - callsBefore,
    totalWaitMs: Math.round(waits.reduce((a, b) => a + b, 0)),
    medianMs: +pct(50).toFixed(2),
    p99Ms: +pct(99).toFixed(2),
    maxMs: +waits.at(-1).toFixed(2),
  };
}

const results = [
  await storm('before: everything inside the buffer waits (withMinValidity(30_000))', [withMinValidity(30_000)]),
  await storm('after: default min validity 10 s (zero wait)', []),
];
server.close();
console.log(`Refresh storm: ${REQUESTS} concurrent requests, token 20 s from expiry, token endpoint ${ENDPOINT_LATENCY_MS} ms (Node ${process.version}, ${process.platform}/${process.arch})`);
console.table(results);
const jsonArg = process.argv.find((a) => a.startsWith('--json='));
writeFileSync(jsonArg ? jsonArg.slice(7) : new URL('./refresh-wait.json', import.meta.url), `${JSON.stringify({ endpointLatencyMs: ENDPOINT_LATENCY_MS, node: process.version, results }, null, 2)}\n`);
