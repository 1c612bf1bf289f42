// End-to-end (issue #26): the BFF's API proxy with the built library in Debian's Chromium against the
// demo server's real createBff() proxy and a loopback orders API. Proxy-only mode (/proxy:
// withBffSession + withBffProxy): the guard, the session, a proxied call, and NO access token anywhere
// the page's JavaScript can see — state, storage, cookies, the DOM, or any answer the browser got.
// The dashboard's panel: the proxied call carries no token beside the tab's own token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ORDERS_AUDIENCE } from '../projects/demo-server/proxied-api.mjs';
import { SESSION_COOKIE, claimsOf, logIn, newContext, startDemo, submitLogin, until } from './helpers/demo.mjs';

const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+/;

let demo;
let browser;
let stop;

before(async () => {
  ({ demo, browser, close: stop } = await startDemo(40));
});
after(async () => stop?.());

/** Everything a context's pages send and get: requests (path, headers) and every answer's body as text. */
function record(context) {
  const seen = { requests: [], bodies: [] };
  context.on('request', (req) => seen.requests.push({ path: new URL(req.url()).pathname, method: req.method(), headers: req.headers() }));
  context.on('response', async (res) => {
    try {
      seen.bodies.push({ path: new URL(res.url()).pathname, status: res.status(), headers: JSON.stringify(res.headers()), body: await res.text() });
    } catch {
      seen.bodies.push({ path: new URL(res.url()).pathname, status: res.status(), headers: JSON.stringify(res.headers()), body: '' }); // redirects have no body
    }
  });
  return seen;
}

/** What the page's JavaScript can see: storage, cookies, IndexedDB names, the DOM. */
const visibleState = (page) =>
  page.evaluate(async () => ({
    local: JSON.stringify({ ...localStorage }),
    session: JSON.stringify({ ...sessionStorage }),
    cookie: document.cookie,
    indexedDb: JSON.stringify((await indexedDB.databases?.()) ?? []),
    dom: document.documentElement.outerHTML,
  }));

const cookieHeader = async (context) => (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');

describe('BFF proxy (demo)', () => {
  test('proxy-only mode: guard, session, proxied call, and no access token in the page state, storage or any answer', async () => {
    const { context } = await newContext(browser, demo.url);
    const seen = record(context);
    // The answers of the app's own session and API routes, taken exactly as the browser gets them (fetched here and
    // handed over): a passive recorder can miss a body the page has already consumed.
    const exact = [];
    await context.route(/^[^?#]*\/(api|session)\//, async (route) => {
      const response = await route.fetch({ maxRedirects: 0 });
      const body = await response.text();
      exact.push({ path: new URL(route.request().url()).pathname, status: response.status(), headers: JSON.stringify(response.headers()), body });
      await route.fulfill({ response, body });
    });
    try {
      const page = await context.newPage();
      // Signed out: the guard (this route's AuthService reads /session/user: 401) sends the user to the login page.
      await page.goto(`${demo.url}/proxy`);
      await page.waitForURL(/\/login\?returnUrl=%2Fproxy$/);
      await submitLogin(page, 'alice');
      await page.waitForURL(`${demo.url}/proxy`);
      await page.getByTestId('proxy-status').filter({ hasText: /^fresh$/ }).waitFor();
      assert.equal(await page.getByTestId('proxy-user').innerText(), 'alice');
      assert.equal(await page.getByTestId('proxy-token-held').innerText(), 'none');
      assert.notEqual(await page.getByTestId('proxy-session-ends').innerText(), '—', 'the session end is known');

      await page.getByTestId('proxy-page-call').click();
      const result = await page.getByTestId('proxy-page-result').innerText();
      assert.match(result, /2 orders for alice/);
      assert.match(result, new RegExp(ORDERS_AUDIENCE));
      assert.match(await page.getByTestId('proxy-page-no-token').innerText(), /^✓/);

      // What left the browser: the proxied call with X-CSRF and no Authorization; nothing ever asked for a token.
      const orders = seen.requests.filter((r) => r.path === '/api/orders');
      assert.equal(orders.length, 1);
      assert.equal(orders[0].headers['x-csrf'], '1');
      assert.equal(orders[0].headers.authorization, undefined);
      assert.deepEqual(seen.requests.filter((r) => r.path === '/session/token'), [], 'no /session/token request in proxy-only mode');
      assert.ok(seen.requests.every((r) => !r.headers.authorization), 'no request carried an Authorization header');
      // The API got a token (for its own audience) and never the browser's cookie or X-CSRF.
      const api = demo.proxiedStats();
      assert.equal(api.requests, 1);
      assert.equal(api.unauthorized, 0);
      assert.deepEqual([api.withCookie, api.withCsrf], [0, 0]);

      // No access token in any answer the browser got (login pages, the app, /session/user, the proxied call) ...
      await until(() => seen.bodies.some((b) => b.path === '/api/orders'), 5_000, 'the proxied answer recorded');
      assert.ok(seen.bodies.length > 5, `answers recorded: ${seen.bodies.length}`);
      // Exactly what the app's session and API routes answered (a failed read would hide a token): no JWT there either.
      assert.ok(exact.some((b) => b.path === '/session/user' && b.status === 200 && b.body.includes('"alice"')), 'the /session/user answer taken');
      assert.ok(exact.some((b) => b.path === '/api/orders' && b.status === 200 && b.body.includes('A-1001')), 'the proxied answer taken');
      for (const b of exact) assert.doesNotMatch(`${b.headers}\n${b.body}`, JWT, `no JWT in the answer of ${b.path} (${b.status})`);
      for (const b of seen.bodies) assert.doesNotMatch(`${b.headers}\n${b.body}`, JWT, `no JWT in the answer of ${b.path} (${b.status})`);
      // ... nor anywhere the page's JavaScript can read.
      const state = await visibleState(page);
      for (const [where, text] of Object.entries(state)) assert.doesNotMatch(text, JWT, `no JWT in ${where}`);
      assert.ok(!state.cookie.includes(SESSION_COOKIE), 'the session cookie is HttpOnly');
      assert.match(await page.getByTestId('proxy-state').innerText(), /"token": null/);

      // The proxied API's token is not handed out either (the server half's rule, seen from this session).
      const cookie = await cookieHeader(context);
      const asked = await fetch(`${demo.url}/session/token?api=orders`, { headers: { cookie, 'x-csrf': '1' } });
      assert.equal(asked.status, 403);

      // The session ends on the server (signed out elsewhere): the next proxied call's 401 ends it here, once, no retry.
      const out = await fetch(`${demo.url}/auth/logout`, { method: 'POST', headers: { cookie, 'x-csrf': '1', origin: demo.url } });
      assert.equal(out.status, 200);
      const before = seen.requests.length;
      await page.getByTestId('proxy-page-call').click();
      await page.getByTestId('proxy-status').filter({ hasText: /^signed-out$/ }).waitFor();
      await page.locator('[data-testid=proxy-event][data-type=session-expired]').waitFor();
      await page.waitForTimeout(500);
      const after = seen.requests.slice(before).map((r) => r.path);
      assert.deepEqual(after, ['/api/orders'], 'one call, no retry, no session read after the 401');
    } finally {
      await context.close();
    }
  });

  test('proxy-only mode in two tabs: signing out in one signs the other out (withCrossTabSync)', async () => {
    const { context } = await newContext(browser, demo.url);
    try {
      const a = await context.newPage();
      await a.goto(`${demo.url}/proxy`);
      await a.waitForURL(/\/login\?returnUrl=%2Fproxy$/);
      await submitLogin(a, 'carol');
      await a.waitForURL(`${demo.url}/proxy`);
      const b = await context.newPage();
      await b.goto(`${demo.url}/proxy`);
      for (const tab of [a, b]) await tab.getByTestId('proxy-status').filter({ hasText: /^fresh$/ }).waitFor();
      assert.equal(await b.getByTestId('proxy-user').innerText(), 'carol');
      await a.getByTestId('proxy-sign-out').click();
      await a.waitForURL(/\/login$/);
      await b.getByTestId('proxy-status').filter({ hasText: /^signed-out$/ }).waitFor();
      await b.locator('[data-testid=proxy-event][data-type=signed-out]').waitFor();
      // The session is gone on the server too: B's next proxied call is refused, and nothing is retried.
      await b.getByTestId('proxy-page-call').click();
      assert.equal(await b.getByTestId('proxy-page-error').innerText(), 'HTTP 401');
    } finally {
      await context.close();
    }
  });

  test('dashboard panel: the proxied call carries no token; the API saw one for an audience this browser never held', async () => {
    const { context, watch } = await newContext(browser, demo.url);
    const seen = record(context);
    try {
      const page = await logIn(context, demo.url, 'bob');
      const before = demo.proxiedStats().requests;
      await page.getByTestId('proxy-call').click();
      await page.getByTestId('proxy-result').waitFor();
      assert.equal(await page.getByTestId('proxy-api-audience').innerText(), ORDERS_AUDIENCE);
      assert.match(await page.getByTestId('proxy-no-token-check').innerText(), /^✓/);
      assert.equal(demo.proxiedStats().requests, before + 1);
      const orders = seen.requests.filter((r) => r.path === '/api/orders');
      assert.equal(orders.length, 1);
      assert.equal(orders[0].headers['x-csrf'], '1');
      assert.equal(orders[0].headers.authorization, undefined, 'withBffProxy: no token on a proxied path, though the tab holds one');
      // The tab's own token (read from its API call's header: no second reader of an answer body) is for the demo API;
      // no token this browser sent or got is for the orders API.
      await page.getByTestId('call').click();
      const own = await until(() => watch.apiCalls.find((c) => c.path === '/api/data' && c.token)?.token, 10_000, "the tab's own token on /api/data");
      assert.notEqual(claimsOf(own).aud, ORDERS_AUDIENCE);
      for (const token of watch.tokens) assert.notEqual(claimsOf(token).aud, ORDERS_AUDIENCE);
    } finally {
      await context.close();
    }
  });
});
