// Shared by the demo's end-to-end tests: the demo server with short tokens, Playwright in Debian's
// Chromium, one signed-in browser context per test (so tests do not depend on each other's order),
// and watchers for what left the browser: `/session/token` requests, API calls and their answers.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import chromiumConfig from '../../scripts/chromium.cjs';
import { startDemoServer } from '../../projects/demo-server/app.mjs';

const { CHROME_BIN, CHROMIUM_FLAGS } = chromiumConfig;
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const artifacts = join(root, 'test-results', 'e2e');

/** Starts the demo backend + SSR app on a free port with `ttlSeconds` access tokens, and Chromium. */
export async function startDemo(ttlSeconds) {
  const demo = await startDemoServer({ port: 0, accessTokenTtlSeconds: ttlSeconds, angularServer: join(root, 'dist/demo/server/server.mjs') });
  const browser = await chromium.launch({ executablePath: CHROME_BIN, args: CHROMIUM_FLAGS });
  return { demo, browser, close: async () => (await browser.close(), await demo.close()) };
}

/** The claims of a JWT (no verification: for reading `jti` in assertions). */
export const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
const bearer = (headers) => (headers.authorization?.startsWith('Bearer ') ? headers.authorization.slice(7) : null);

/**
 * A new browser context (its own cookies, and its own BroadcastChannel/Web Locks scope) that
 * watches what its tabs send: every `/session/token` request of the default token (and apart, those
 * of named tokens: `?api=`), every API call (not /api/stats) with the token it carried, each
 * `/api/data` answer, every call to the reports API (another origin) with its token, and every access
 * token seen (requests and `/session/token` answers).
 */
export async function newContext(browser, demoUrl, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(15_000);
  const watch = { sessionTokenRequests: [], apiTokenRequests: [], apiCalls: [], reportsCalls: [], dataAnswers: [], tokens: new Set() };
  context.on('request', (req) => {
    const url = new URL(req.url());
    if (url.pathname === '/session/token') {
      const api = url.searchParams.get('api');
      if (api === null) watch.sessionTokenRequests.push({ at: Date.now(), method: req.method() });
      else watch.apiTokenRequests.push({ at: Date.now(), api });
    }
    if (url.pathname.startsWith('/reports-api/') && req.method() !== 'OPTIONS') {
      const token = bearer(req.headers());
      watch.reportsCalls.push({ at: Date.now(), origin: url.origin, token, aud: token && claimsOf(token).aud });
      if (token) watch.tokens.add(token);
    }
    if (url.pathname.startsWith('/api/') && url.pathname !== '/api/stats') {
      const token = bearer(req.headers());
      watch.apiCalls.push({ at: Date.now(), path: url.pathname, token, jti: token && claimsOf(token).jti, aud: token && claimsOf(token).aud });
      if (token) watch.tokens.add(token);
    }
  });
  context.on('response', async (res) => {
    const url = new URL(res.url());
    try {
      if (url.pathname === '/session/token' && res.ok()) watch.tokens.add((await res.json()).accessToken);
      if (url.pathname === '/api/data') watch.dataAnswers.push({ at: Date.now(), status: res.status(), ...(res.ok() ? await res.json() : {}) });
    } catch {
      // A page that closed before its answer was read.
    }
  });
  /** The counters of this context's session as the server keeps them (`null` without one). */
  const sessionStats = async () => {
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    return (await fetch(`${demoUrl}/api/stats`, { headers: { cookie } }).then((r) => r.json())).session;
  };
  return { context, watch, sessionStats };
}

/** The demo's session cookie (createBff's default name with the `__Host-` prefix). */
export const SESSION_COOKIE = '__Host-nft-session';

/**
 * Fills the login form of `page` (on /login) and submits it: the browser leaves for the BFF's
 * /auth/login, the IdP's authorization endpoint and interaction, and the callback's hop page.
 */
export async function submitLogin(page, username = 'alice') {
  await page.locator('form[data-ready=true]').waitFor(); // hydrated: the typed name is kept
  await page.getByTestId('username').fill(username);
  await page.getByTestId('login').click();
}

/**
 * Logs in through the login page of a new tab (the redirect flow through the IdP) and waits for
 * the dashboard with a fresh token.
 */
export async function logIn(context, demoUrl, username = 'alice') {
  const page = await context.newPage();
  await page.goto(`${demoUrl}/login`);
  await submitLogin(page, username);
  await page.waitForURL(`${demoUrl}/`);
  await waitForStatus(page, 'fresh');
  // Rendered signed in by the server, the status says fresh before the tab holds its token: wait for it.
  await page.getByTestId('jti').waitFor();
  return page;
}

/** Opens the dashboard in a new tab of `context` and waits until it shows a token. */
export async function openTab(context, demoUrl) {
  const page = await context.newPage();
  await page.goto(`${demoUrl}/`);
  await page.getByTestId('status').filter({ hasText: /^(fresh|expiring)$/ }).waitFor();
  await page.getByTestId('jti').waitFor();
  return page;
}

export async function waitForStatus(page, value, timeout = 10_000) {
  await page.getByTestId('status').filter({ hasText: new RegExp(`^${value}$`) }).waitFor({ timeout });
}

/** The whole `jti` the page shows. */
export const shownJti = (page) => page.getByTestId('jti').innerText();

/** Polls `cond` (sync or async) every 50 ms until it is truthy; fails with `what` after `timeoutMs`. */
export async function until(cond, timeoutMs, what) {
  const start = Date.now();
  for (;;) {
    const value = await cond();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves with `promise`, or fails naming `what` if it has not settled within `timeoutMs`. */
export function within(promise, timeoutMs, what) {
  let timer;
  const deadline = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Holds every `/session/token` request of `context` (before it reaches the server) until
 * `release()`: the way to see what the app does while a refresh is in flight. `arrived` resolves
 * at the first held request.
 */
export async function holdSessionToken(context) {
  let release;
  const gate = new Promise((r) => (release = r));
  let arrive;
  const arrived = new Promise((r) => (arrive = r));
  const handler = async (route) => {
    arrive();
    await gate;
    await route.continue().catch(() => undefined);
  };
  await context.route('**/session/token', handler);
  return {
    arrived,
    release: async () => {
      release();
      await context.unroute('**/session/token', handler);
    },
  };
}

export const LOG_ROWS = '[data-testid=log] tbody tr[data-testid^="log-"]';

/**
 * Clicks a button and waits until the `count` newest request-log rows are rows that were not
 * there before the click and all finished; returns each row's attempts (`200 · #2`, …).
 */
export async function clickAndWaitForRows(page, testId, count, timeout = 20_000) {
  const previous = await page.$$eval(LOG_ROWS, (rows) => rows.map((row) => row.dataset.testid));
  await page.getByTestId(testId).click();
  return waitForNewRows(page, previous, count, timeout);
}

/** Waits until the `count` newest request-log rows are new (not in `previous`) and finished; returns their attempts. */
export async function waitForNewRows(page, previous, count, timeout = 20_000) {
  await page.waitForFunction(
    ({ n, previous, selector }) => {
      const rows = [...document.querySelectorAll(selector)].slice(0, n);
      return rows.length === n && rows.every((row) => !previous.includes(row.dataset.testid) && row.dataset.done === 'true');
    },
    { n: count, previous, selector: LOG_ROWS },
    { timeout },
  );
  return page.$$eval(LOG_ROWS, (rows, n) => rows.slice(0, n).map((row) => [...row.querySelectorAll('.attempt')].map((a) => a.textContent.trim())), count);
}
