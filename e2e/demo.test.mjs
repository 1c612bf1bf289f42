// End-to-end: the demo app (Angular SSR) and its dev backend (real oidc-provider, BFF session
// endpoint, JWKS-verified API), driven by Playwright in Debian's Chromium. Access tokens live
// 40 s here, so a token is inside the 30 s refresh buffer 10 s after it was issued.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import chromiumConfig from '../scripts/chromium.cjs';

const { CHROME_BIN, CHROMIUM_FLAGS } = chromiumConfig;
import { startDemoServer } from '../projects/demo-server/app.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const artifacts = join(root, 'test-results', 'e2e');
const TTL_SECONDS = 40;

let demo;
let browser;
let page;
/** Every access token the browser sent, to prove none of them reaches rendered HTML. */
const tokens = new Set();
/** Every API call as it left the browser: URL and Authorization header. */
const apiCalls = [];

const stats = () => fetch(`${demo.url}/api/stats`).then((r) => r.json());
const status = () => page.getByTestId('status').innerText();

async function waitForStatus(value, timeoutMs) {
  await page.getByTestId('status').filter({ hasText: new RegExp(`^${value}$`) }).waitFor({ timeout: timeoutMs });
}

/** Waits until the newest `count` logged requests have finished, retries included; returns their attempts. */
const LOG_ROWS = '[data-testid=log] tbody tr[data-testid^="log-"]';

/**
 * Clicks a button and waits until the `count` newest request-log rows are rows that were not
 * there before the click (zoneless rendering happens after the click returns, so the old top
 * rows are still showing for a moment) and all finished; returns each row's attempts.
 */
async function clickAndWaitForRows(testId, count) {
  const previous = await page.$$eval(LOG_ROWS, (rows) => rows.map((row) => row.dataset.testid));
  await page.getByTestId(testId).click();
  await page.waitForFunction(
    ({ n, previous }) => {
      const rows = [...document.querySelectorAll('[data-testid=log] tbody tr[data-testid^="log-"]')].slice(0, n);
      return rows.length === n && rows.every((row) => !previous.includes(row.dataset.testid) && row.dataset.done === 'true');
    },
    { n: count, previous },
    { timeout: 20_000 },
  );
  return page.$$eval(LOG_ROWS, (rows, n) =>
    rows.slice(0, n).map((row) => [...row.querySelectorAll('.attempt')].map((a) => a.textContent.trim())),
  count);
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  demo = await startDemoServer({
    port: 0,
    accessTokenTtlSeconds: TTL_SECONDS,
    angularServer: join(root, 'dist/demo/server/server.mjs'),
  });
  browser = await chromium.launch({ executablePath: CHROME_BIN, args: CHROMIUM_FLAGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15_000);
  page.on('request', (req) => {
    if (new URL(req.url()).pathname.startsWith('/api/') && !req.url().includes('/api/stats')) {
      const authorization = req.headers().authorization ?? null;
      apiCalls.push({ path: new URL(req.url()).pathname, authorization });
      if (authorization?.startsWith('Bearer ')) tokens.add(authorization.slice(7));
    }
  });
});

after(async () => {
  await browser?.close();
  await demo?.close();
});

describe('demo, end to end', { concurrency: false }, () => {
  test('log in → an API call succeeds with a token', async () => {
    await page.goto(`${demo.url}/login`);
    await page.getByTestId('login').click();
    await page.waitForURL(`${demo.url}/`);
    await waitForStatus('fresh', 10_000);
    assert.equal(await page.getByTestId('sub').innerText(), 'alice');
    const [attempts] = await clickAndWaitForRows('call', 1);
    assert.deepEqual(attempts, ['200 · #1']);
    const call = apiCalls.at(-1);
    assert.equal(call.path, '/api/data');
    assert.match(call.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  });

  test('inside the buffer, the next call is preceded by exactly one refresh', async () => {
    await waitForStatus('expiring', TTL_SECONDS * 1000);
    const before = await stats();
    const previous = apiCalls.at(-1).authorization;
    const [attempts] = await clickAndWaitForRows('call', 1);
    const afterStats = await stats();
    assert.equal(afterStats.refreshes, before.refreshes + 1, 'exactly one refresh on the server');
    assert.deepEqual(attempts, ['200 · #2'], 'sent once, with the new token');
    assert.notEqual(apiCalls.at(-1).authorization, previous);
    assert.equal(afterStats.unauthorized, before.unauthorized, 'no 401: the old token never left');
    await waitForStatus('fresh', 5_000);
  });

  test('a burst of 50 parallel calls as the token expires costs exactly one refresh', async () => {
    await waitForStatus('expiring', TTL_SECONDS * 1000);
    const before = await stats();
    const callsBefore = apiCalls.length;
    const rows = await clickAndWaitForRows('burst', 50);
    const afterStats = await stats();
    assert.equal(afterStats.refreshes, before.refreshes + 1, 'exactly one refresh for 50 calls');
    assert.equal(afterStats.requests - before.requests, 50, 'each call reached the API once');
    assert.equal(afterStats.unauthorized, before.unauthorized);
    assert.ok(rows.every((attempts) => attempts.length === 1 && attempts[0] === '200 · #3'));
    const burstCalls = apiCalls.slice(callsBefore);
    assert.equal(burstCalls.length, 50);
    assert.equal(new Set(burstCalls.map((c) => c.authorization)).size, 1, 'all 50 carried the same new token');
    // The screenshot shows the server's own count once the page has polled it.
    await page.getByTestId('stat-refreshes').filter({ hasText: new RegExp(`^${afterStats.refreshes}$`) }).waitFor({ timeout: 5_000 });
    await page.waitForTimeout(1_000); // let the countdown bar finish its 0.9 s transition
    await page.screenshot({ path: join(artifacts, 'dashboard-after-burst.png'), fullPage: false });
  });

  test('the server-rendered HTML of every page contains no token', async () => {
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    assert.match(cookie, /nft_demo_sid=/, 'rendered with the logged-in session cookie');
    assert.ok(tokens.size >= 3);
    for (const path of ['/', '/login', '/no-such-page']) {
      const html = await fetch(`${demo.url}${path}`, { headers: { cookie } }).then((r) => r.text());
      assert.match(html, /<app-root/, `${path} was server-rendered`);
      for (const token of tokens) assert.ok(!html.includes(token), `${path} contains an access token`);
      assert.doesNotMatch(html, /eyJ[\w-]{10,}\.eyJ[\w-]{10,}/, `${path} contains something JWT-shaped`);
      assert.doesNotMatch(html, /refresh_token|client_secret/i);
    }
  });

  test('revoke → one 401, one refresh, and the call succeeds on retry', async () => {
    await clickAndWaitForRows('revoke', 1);
    const before = await stats();
    assert.equal(before.revocations, 1);
    const [attempts] = await clickAndWaitForRows('call', 1);
    const afterStats = await stats();
    assert.deepEqual(attempts, ['401 · #3', '200 · #4'], 'retried once with a new token');
    assert.equal(afterStats.unauthorized, before.unauthorized + 1, 'one 401');
    assert.equal(afterStats.refreshes, before.refreshes + 1, 'one refresh');
  });

  test('sign out → calls go without a token and are not retried', async () => {
    const before = await stats();
    await page.getByTestId('signout').click();
    await waitForStatus('signed-out', 5_000);
    const [attempts] = await clickAndWaitForRows('call', 1);
    assert.deepEqual(attempts, ['401 · no token']);
    assert.equal(apiCalls.at(-1).authorization, null);
    const afterStats = await stats();
    assert.equal(afterStats.refreshes, before.refreshes, 'no refresh after sign-out');
    const token = await fetch(`${demo.url}/session/token`).then((r) => r.status);
    assert.equal(token, 401, 'the session is gone on the server');
    assert.equal(await status(), 'signed-out');
  });
});
