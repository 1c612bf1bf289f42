// End-to-end: the demo app (Angular SSR) and its dev backend (real oidc-provider, BFF session
// endpoint, JWKS-verified API), driven by Playwright in Debian's Chromium. Access tokens live
// 40 s here, so a token is inside the 30 s refresh buffer 10 s after it was issued.
// UPDATE_DOCS_SCREENSHOT=1 also writes the dashboard screenshot to docs/demo-dashboard.png.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
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
/** The counters of the browser's current session (`null` without one), as the dashboard shows them. */
async function sessionStats() {
  const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  return (await fetch(`${demo.url}/api/stats`, { headers: { cookie } }).then((r) => r.json())).session;
}
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
  test('signed out, the guarded dashboard sends the browser to /login with the attempted URL; logging in returns there', async () => {
    await page.goto(`${demo.url}/?from=e2e`);
    await page.waitForURL(`${demo.url}/login?returnUrl=%2F%3Ffrom%3De2e`);
    await page.getByTestId('login').click();
    await page.waitForURL(`${demo.url}/?from=e2e`);
    await waitForStatus('fresh', 10_000);
    assert.equal(await page.getByTestId('sub').innerText(), 'alice');
  });

  test('log in → an API call succeeds with a token; a new session starts its counters at zero and the first token is no refresh', async () => {
    const before = await stats();
    await page.goto(`${demo.url}/login`);
    await page.getByTestId('login').click();
    await page.waitForURL(`${demo.url}/`);
    await waitForStatus('fresh', 10_000);
    assert.equal(await page.getByTestId('sub').innerText(), 'alice');
    assert.equal((await stats()).refreshes, before.refreshes, 'loading the login\'s first token is not a refresh');
    assert.deepEqual(await sessionStats(), { logins: 1, refreshes: 0, requests: 0, unauthorized: 0, revocations: 0 });
    assert.deepEqual(await page.locator('[data-testid=events] .event').allInnerTexts(), ['loaded'], 'the page does not call it a refresh either');
    const [attempts] = await clickAndWaitForRows('call', 1);
    assert.deepEqual(attempts, ['200 · #1']);
    const call = apiCalls.at(-1);
    assert.equal(call.path, '/api/data');
    assert.match(call.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal((await sessionStats()).requests, 1);
    await page.getByTestId('stat-requests').filter({ hasText: /^1$/ }).waitFor({ timeout: 5_000 });
    assert.equal(await page.getByTestId('stat-refreshes').innerText(), '0');
    assert.match(await page.getByTestId('stats-scope').innerText(), /this session/i);
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
    // The screenshot shows the session's count from the server once the page has polled it.
    const session = await sessionStats();
    await page.getByTestId('stat-refreshes').filter({ hasText: new RegExp(`^${session.refreshes}$`) }).waitFor({ timeout: 5_000 });
    await page.waitForTimeout(1_000); // let the countdown bar finish its 0.9 s transition
    const shot = join(artifacts, 'dashboard-after-burst.png');
    await page.screenshot({ path: shot, fullPage: false });
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') copyFileSync(shot, join(root, 'docs', 'demo-dashboard.png'));
  });

  test('the burst button says when a burst shows a refresh: only while the token is inside the buffer', async () => {
    const hint = await page.getByTestId('burst-hint').innerText();
    assert.match(hint, /expiring/);
    assert.match(hint, /buffer/);
    assert.match(hint, /one refresh/i);
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

  test('at 390 px wide: a compact header, no sideways scrolling, the request log readable', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    try {
      await context.addCookies(await page.context().cookies());
      const phone = await context.newPage();
      await phone.goto(`${demo.url}/`);
      await phone.getByTestId('status').filter({ hasText: /^(fresh|expiring)$/ }).waitFor({ timeout: 10_000 });
      await phone.getByTestId('call').click();
      await phone.locator('[data-testid=log] tbody tr[data-done=true]').first().waitFor({ timeout: 10_000 });
      const layout = await phone.evaluate(() => {
        const box = (el) => el.getBoundingClientRect();
        const header = box(document.querySelector('header.top'));
        const cells = [...document.querySelectorAll('[data-testid=log] tbody tr:first-child td')].filter(
          (td) => td.offsetParent !== null && td.textContent.trim() !== '',
        );
        return {
          pageWidth: document.documentElement.scrollWidth,
          headerHeight: header.height,
          buttonsInside: [...document.querySelectorAll('.actions button')].every((b) => box(b).right <= innerWidth && box(b).left >= 0),
          tableRight: box(document.querySelector('[data-testid=log]')).right,
          cellsOverflowing: cells.filter((td) => td.scrollWidth > td.clientWidth + 1).length,
          // "GET /api/data" squeezed onto two lines is what a cramped table looks like.
          requestLines: [...document.querySelectorAll('[data-testid=log] tbody tr td:nth-child(3)')].map((td) => {
            const range = document.createRange();
            range.selectNodeContents(td);
            return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
          }),
        };
      });
      await phone.waitForTimeout(1_000);
      await phone.screenshot({ path: join(artifacts, 'dashboard-390px.png'), fullPage: true });
      assert.ok(layout.pageWidth <= 390, `no sideways scrolling (page is ${layout.pageWidth} px wide)`);
      assert.ok(layout.headerHeight <= 100, `header is ${layout.headerHeight} px tall`);
      assert.ok(layout.buttonsInside, 'every button fits the screen');
      assert.ok(layout.tableRight <= 390, 'the request log fits the screen');
      assert.equal(layout.cellsOverflowing, 0, 'no request-log cell overflows');
      assert.ok(layout.requestLines.length > 0 && layout.requestLines.every((n) => n === 1), `request column lines: ${layout.requestLines}`);
    } finally {
      await context.close();
    }
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
    assert.equal(await sessionStats(), null, 'no session, no session counters');
  });
});
