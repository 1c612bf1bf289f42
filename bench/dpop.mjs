#!/usr/bin/env node
// DPoP in the browser (issue #27): in Chromium, what one proof costs (ES256 via WebCrypto with the
// non-extractable key from IndexedDB, signed by jose) and what a request costs through
// freshTokenInterceptor with a bearer token vs a DPoP token vs no token, side by side in one run.
// Each request goes to an in-memory backend (no network), one at a time, timed from subscribe to the
// answer; rounds alternate the three setups so machine noise hits all alike. Medians and p99 in ms.
//   node bench/dpop.mjs [--quick] [--json=out.json]       (after `npm run build`)
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import chromiumConfig from '../scripts/chromium.cjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const quick = process.argv.includes('--quick');
const jsonArg = process.argv.find((a) => a.startsWith('--json='));
const N = Number(process.env.N ?? (quick ? 300 : 2_000));
const ROUNDS = Number(process.env.ROUNDS ?? (quick ? 3 : 7));

const page = String.raw`
import '@angular/compiler';
import { HttpBackend, HttpClient, HttpResponse, provideHttpClient, withInterceptors } from '@angular/common/http';
import { provideZonelessChangeDetection } from '@angular/core';
import { createApplication } from '@angular/platform-browser';
import { createEnvironmentInjector, EnvironmentInjector, runInInjectionContext } from '@angular/core';
import { freshTokenInterceptor, injectAuth, provideFreshToken, withApiToken, withAuthorizedUrls, withTokenSource } from 'ngx-fresh-token';
import { injectDpop, withDpop } from 'ngx-fresh-token/dpop';
import { of } from 'rxjs';

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.' + btoa(JSON.stringify({ sub: 'bench', exp: Math.floor(Date.now() / 1000) + 3600 })).replace(/=+$/, '') + '.c2ln';
const source = { getToken: async () => ({ accessToken: TOKEN, expiresAt: Date.now() + 3_600_000 }) };
const backend = { handle: (req) => of(new HttpResponse({ status: 200, body: null, url: req.url })) };
const app = await createApplication({
  providers: [
    provideZonelessChangeDetection(),
    provideHttpClient(withInterceptors([freshTokenInterceptor])),
    { provide: HttpBackend, useValue: backend },
    provideFreshToken(
      withTokenSource(source),
      withAuthorizedUrls('https://bearer.example.com'),
      withApiToken('dpop', ['https://dpop.example.com'], withTokenSource(source), withDpop({ databaseName: 'bench-dpop' })),
    ),
  ],
});
const injector = app.injector;
const http = injector.get(HttpClient);
const dpop = runInInjectionContext(injector, () => injectDpop('dpop'));
await runInInjectionContext(injector, () => injectAuth()).getValidToken();
await runInInjectionContext(injector, () => injectAuth('dpop')).getValidToken();

const one = (url) => new Promise((resolve, reject) => http.get(url).subscribe({ complete: resolve, error: reject }));
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: q(0.5), p99: q(0.99) };
};
window.runBench = async (n, rounds) => {
  const setups = {
    none: (i) => 'https://other.example.com/items/' + i,
    bearer: (i) => 'https://bearer.example.com/items/' + i,
    dpop: (i) => 'https://dpop.example.com/items/' + i,
  };
  const times = { proof: [], none: [], bearer: [], dpop: [] };
  // Warm-up: JIT, the key loaded, the token hashed.
  for (let i = 0; i < 200; i++) { await dpop.proof('GET', 'https://dpop.example.com/w', TOKEN); await one(setups.none(i)); await one(setups.bearer(i)); await one(setups.dpop(i)); }
  const order = ['proof', 'none', 'bearer', 'dpop'];
  for (let r = 0; r < rounds; r++) {
    for (const name of order.slice(r % 4).concat(order.slice(0, r % 4))) {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        if (name === 'proof') await dpop.proof('GET', 'https://dpop.example.com/items/' + i + '?q=1', TOKEN);
        else await one(setups[name](i));
        times[name].push(performance.now() - t0);
      }
    }
  }
  return { proof: stats(times.proof), none: stats(times.none), bearer: stats(times.bearer), dpop: stats(times.dpop), samples: times.proof.length, userAgent: navigator.userAgent };
};
window.benchReady = true;
`;

const out = await build({
  stdin: { contents: page, resolveDir: root, loader: 'js' },
  bundle: true,
  minify: true,
  format: 'esm',
  write: false,
  define: { ngDevMode: 'false', ngServerMode: 'false' },
  nodePaths: [join(root, 'node_modules')],
  logLevel: 'silent',
});
const bundle = out.outputFiles[0].text;
// Cross-origin isolated (COOP + COEP): performance.now() then has 5 µs resolution instead of 100 µs.
const isolated = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
const server = createServer((req, res) => {
  if (req.url === '/bench.js') return res.writeHead(200, { 'content-type': 'text/javascript', ...isolated }).end(bundle);
  res.writeHead(200, { 'content-type': 'text/html', ...isolated }).end('<!doctype html><script type="module" src="/bench.js"></script>');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const { CHROME_BIN, CHROMIUM_FLAGS } = chromiumConfig;
const browser = await chromium.launch({ executablePath: CHROME_BIN, args: CHROMIUM_FLAGS });
try {
  const tab = await browser.newPage();
  tab.on('pageerror', (err) => console.error('page error:', err.message));
  await tab.goto(`http://localhost:${server.address().port}/`);
  await tab.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
  if (!(await tab.evaluate(() => crossOriginIsolated))) console.error('warning: not cross-origin isolated; timer resolution 100 µs');
  const result = await tab.evaluate(([n, rounds]) => window.runBench(n, rounds), [N, ROUNDS]);
  const ms = (x) => x.toFixed(3).padStart(8);
  console.log(`DPoP in Chromium (${result.userAgent.match(/Chrome\/[\d.]+/)?.[0]}), ${result.samples} samples each (${ROUNDS} rounds × ${N}), ms per request:`);
  console.log(`${'what'.padEnd(44)}   median       p99`);
  console.log(`${'one proof (injectDpop().proof)'.padEnd(44)} ${ms(result.proof.median)}  ${ms(result.proof.p99)}`);
  console.log(`${'HttpClient, URL without a token'.padEnd(44)} ${ms(result.none.median)}  ${ms(result.none.p99)}`);
  console.log(`${'HttpClient + interceptor, bearer token'.padEnd(44)} ${ms(result.bearer.median)}  ${ms(result.bearer.p99)}`);
  console.log(`${'HttpClient + interceptor, DPoP token'.padEnd(44)} ${ms(result.dpop.median)}  ${ms(result.dpop.p99)}`);
  console.log(`added by the interceptor (median − no token): bearer ${ms(result.bearer.median - result.none.median)}, DPoP ${ms(result.dpop.median - result.none.median)}`);
  if (jsonArg) writeFileSync(jsonArg.slice(7), JSON.stringify({ date: new Date().toISOString(), n: N, rounds: ROUNDS, ...result }, null, 2));
} finally {
  await browser.close();
  server.close();
}
