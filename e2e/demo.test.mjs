// End-to-end: the demo app (Angular SSR) and its dev backend (real oidc-provider, createBff from
// ngx-fresh-token/bff, JWKS-verified API), driven by Playwright in Debian's Chromium. Every login
// runs the redirect flow: /login → /auth/login → the IdP's authorization endpoint → /auth/callback. Access tokens live
// 40 s here, so a token enters the 30 s refresh buffer 10 s after it was issued, and the demo's
// auto refresh renews it then. Every test signs in in its own browser context, so none depends
// on another's order or tokens: they assert "one more token", never "token #3".
// UPDATE_DOCS_SCREENSHOT=1 also writes the dashboard screenshot to docs/demo-dashboard.png.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  artifacts,
  clickAndWaitForRows,
  holdSessionToken,
  logIn,
  newContext,
  root,
  shownJti,
  SESSION_COOKIE,
  startDemo,
  submitLogin,
  until,
  waitForNewRows,
  waitForStatus,
  within,
  LOG_ROWS,
} from './helpers/demo.mjs';

const TTL_SECONDS = 40;

let demo;
let browser;
let stop;
/** Every context a test opened, closed after it (also when it fails). */
const contexts = [];

const stats = () => fetch(`${demo.url}/api/stats`).then((r) => r.json());
/** Each test's own signed-out browser context and its watchers. */
async function context(viewport) {
  const made = await newContext(browser, demo.url, viewport);
  contexts.push(made.context);
  return made;
}
/** The page's own clock time for `ms` (HH:mm:ss in the browser's time zone). */
const clockTime = (page, ms) => page.evaluate((t) => new Date(t).toTimeString().slice(0, 8), ms);
/** How long until the token the page holds enters the buffer, plus a margin. */
async function msUntilBuffer(page) {
  const refreshAt = Number(await page.getByTestId('next-step').getAttribute('data-refresh-at'));
  return Math.max(0, refreshAt - Date.now()) + 5_000;
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  ({ demo, browser, close: stop } = await startDemo(TTL_SECONDS));
});

after(async () => {
  await stop?.();
});

describe('demo, end to end', { concurrency: false }, () => {
  test.afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => undefined);
  });

  test('signed out, the guarded dashboard sends the browser to /login with the attempted URL; logging in returns there', async () => {
    const { context: ctx } = await context();
    const page = await ctx.newPage();
    await page.goto(`${demo.url}/?from=e2e`);
    await page.waitForURL(`${demo.url}/login?returnUrl=%2F%3Ffrom%3De2e`);
    await page.getByTestId('login').click();
    await page.waitForURL(`${demo.url}/?from=e2e`);
    await waitForStatus(page, 'fresh');
    assert.equal(await page.getByTestId('sub').innerText(), 'alice');
  });

  test('signs in through the redirect flow: /login → IdP authorization endpoint → callback → back on the attempted URL, signed in', async (t) => {
    const { context: ctx } = await context();
    const page = await ctx.newPage();
    /** Every top-level navigation answer, in order, with the cookie its request carried. */
    const chain = [];
    page.on('response', async (res) => {
      const req = res.request();
      if (!req.isNavigationRequest() || req.frame() !== page.mainFrame()) return;
      const entry = { url: new URL(res.url()), status: res.status() };
      chain.push(entry);
      entry.cookie = (await req.allHeaders().catch(() => ({}))).cookie ?? '';
    });
    await page.goto(`${demo.url}/?from=redirect`);
    await page.waitForURL(`${demo.url}/login?returnUrl=%2F%3Ffrom%3Dredirect`);
    await submitLogin(page, 'bob.e2e');
    await page.waitForURL(`${demo.url}/?from=redirect`);
    await waitForStatus(page, 'fresh');
    assert.equal(await page.getByTestId('sub').innerText(), 'bob.e2e', 'the IdP signed in the name the page handed over');
    t.diagnostic(chain.map((c) => `${c.status} ${c.url.pathname}`).join(' → '));

    const paths = chain.map((c) => c.url.pathname);
    const at = (path, from = 0) => paths.indexOf(path, from);
    const login = chain[at('/auth/login')];
    assert.ok(login, `the page went to /auth/login: ${paths}`);
    assert.equal(login.status, 302);
    assert.equal(login.url.searchParams.get('returnUrl'), '/?from=redirect');
    assert.equal(login.url.searchParams.get('login_hint'), 'bob.e2e');
    const authorize = chain[at('/oidc/auth', at('/auth/login'))];
    assert.ok(authorize, `then to the IdP's authorization endpoint: ${paths}`);
    const params = authorize.url.searchParams;
    assert.equal(params.get('response_type'), 'code');
    assert.equal(params.get('client_id'), 'demo-bff');
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.match(params.get('code_challenge'), /^[\w-]{43}$/);
    assert.ok(params.get('state') && params.get('nonce'), 'state and nonce');
    assert.equal(params.get('login_hint'), 'bob.e2e');
    assert.equal(params.get('redirect_uri'), `${demo.url}/auth/callback`);
    assert.ok(paths.some((p) => p.startsWith('/oidc/interaction/')), `through the IdP's interaction: ${paths}`);
    const callbackAt = at('/auth/callback');
    const callback = chain[callbackAt];
    assert.ok(callback && callbackAt > at('/oidc/auth'), `back to the callback: ${paths}`);
    assert.equal(callback.status, 200, 'the callback answers with the same-site hop page');
    assert.ok(callback.url.searchParams.get('code') && callback.url.searchParams.get('state') === params.get('state'));
    const landing = chain[callbackAt + 1];
    assert.equal(landing.url.href, `${demo.url}/?from=redirect`, 'the hop lands on the attempted URL');
    assert.equal(landing.status, 200);
    assert.match(landing.cookie, new RegExp(`${SESSION_COOKIE}=`), 'the first request after the callback carries the session');

    const [session] = (await ctx.cookies()).filter((c) => c.name === SESSION_COOKIE);
    assert.deepEqual(
      { httpOnly: session.httpOnly, secure: session.secure, sameSite: session.sameSite, path: session.path },
      { httpOnly: true, secure: true, sameSite: 'Strict', path: '/' },
    );
    const user = await page.evaluate(() => fetch('/session/user').then((r) => r.json()));
    assert.deepEqual(user.user, { sub: 'bob.e2e' }, '/session/user shows the allowed ID-token claims (scope openid: sub), no token');
    assert.doesNotMatch(JSON.stringify(user), /eyJ/, 'never a token');
    assert.deepEqual(await page.evaluate(() => fetch('/auth/me').then((r) => r.json())), { user: 'bob.e2e' });
  });

  test('the login page refuses a malformed user name itself, before any redirect', async () => {
    const { context: ctx } = await context();
    const page = await ctx.newPage();
    const logins = [];
    page.on('request', (req) => new URL(req.url()).pathname === '/auth/login' && logins.push(req.url()));
    await page.goto(`${demo.url}/login`);
    for (const bad of ['', 'has space', 'x'.repeat(33), 'é']) {
      await submitLogin(page, bad);
      await page.getByTestId('login-error').filter({ hasText: /1–32 letters, digits/ }).waitFor({ timeout: 5_000 });
    }
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.deepEqual(logins, [], 'no login started');
  });

  test('log in → an API call succeeds with a token; a new session starts its counters at zero and the first token is no refresh', async () => {
    const { context: ctx, watch, sessionStats } = await context();
    const before = await stats();
    const page = await logIn(ctx, demo.url);
    assert.equal(await page.getByTestId('sub').innerText(), 'alice');
    assert.equal((await stats()).refreshes, before.refreshes, "loading the login's first token is not a refresh");
    assert.deepEqual(await sessionStats(), { logins: 1, refreshes: 0, requests: 0, unauthorized: 0, revocations: 0 });
    assert.deepEqual(await page.locator('[data-testid=events] .event').allInnerTexts(), ['loaded'], 'the page does not call it a refresh either');
    const generation = await page.getByTestId('generation').innerText();
    const [attempts] = await clickAndWaitForRows(page, 'call', 1);
    assert.deepEqual(attempts, [`200 · #${generation}`]);
    const call = watch.apiCalls.at(-1);
    assert.equal(call.path, '/api/data');
    assert.match(call.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(await shownJti(page), call.jti, 'the page shows the whole jti of the token it sent');
    assert.equal(watch.dataAnswers.at(-1).status, 200);
    assert.equal(typeof watch.dataAnswers.at(-1).generation, 'number', "/api/data answers the server's token generation");
    assert.equal((await sessionStats()).requests, 1);
    await page.getByTestId('stat-requests').filter({ hasText: /^1$/ }).waitFor({ timeout: 5_000 });
    assert.equal(await page.getByTestId('stat-refreshes').innerText(), '0');
    assert.match(await page.getByTestId('stats-scope').innerText(), /this session/i);
  });

  test('the dashboard says auto refresh and cross-tab sync are on, and when the token refreshes (from state.refreshAt)', async () => {
    const { context: ctx } = await context();
    const page = await logIn(ctx, demo.url);
    assert.match(await page.getByTestId('auto-refresh').innerText(), /Auto refresh on/);
    assert.match(await page.getByTestId('cross-tab').innerText(), /Cross-tab sync on/);
    const refreshAt = Number(await page.getByTestId('next-step').getAttribute('data-refresh-at'));
    assert.ok(refreshAt > Date.now(), 'the refresh point lies ahead');
    const next = await page.getByTestId('next-step').innerText();
    assert.equal(next, `Fresh — refreshes automatically at ${await clockTime(page, refreshAt)}, in the background.`);
    assert.match(await page.getByTestId('refresh-in').innerText(), /^refresh in \d+ s$/);
  });

  test('inside the buffer a call goes out at once with the current token while ONE refresh runs in the background', async () => {
    const { context: ctx, watch, sessionStats } = await context();
    const page = await logIn(ctx, demo.url);
    const [first] = await clickAndWaitForRows(page, 'call', 1);
    const oldJti = await shownJti(page);
    const oldGeneration = watch.dataAnswers.at(-1).generation;
    const tokenRequests = watch.sessionTokenRequests.length;

    // Hold the refresh at the network: whatever the page does now, it does while the refresh is in flight.
    const hold = await holdSessionToken(ctx);
    await within(hold.arrived, await msUntilBuffer(page), 'the refresh at refreshAt');
    assert.equal(await page.getByTestId('status').innerText(), 'expiring');
    assert.match(await page.getByTestId('next-step').innerText(), /^Inside the buffer — refreshing in the background/);
    const [attempts] = await clickAndWaitForRows(page, 'call', 1);
    // The call has finished while /session/token is still held: it did not wait for the refresh.
    assert.deepEqual(attempts, first, 'sent once, with the same (old) token generation as before');
    assert.equal(watch.apiCalls.at(-1).jti, oldJti);
    assert.equal(watch.dataAnswers.at(-1).generation, oldGeneration, 'the API saw the old generation');
    assert.equal((await sessionStats()).refreshes, 0, 'the refresh has not reached the server yet');

    await hold.release();
    await until(async () => (await shownJti(page)) !== oldJti, 10_000, 'the new token');
    assert.equal(watch.sessionTokenRequests.length - tokenRequests, 1, 'exactly one /session/token request');
    assert.equal((await sessionStats()).refreshes, 1, 'exactly one refresh on the server');
    await waitForStatus(page, 'fresh', 5_000);
    await clickAndWaitForRows(page, 'call', 1);
    assert.ok(watch.dataAnswers.at(-1).generation > oldGeneration, 'the next call carries one more token generation');
    assert.equal((await sessionStats()).unauthorized, 0, 'no 401: the old token was still valid');
  });

  test('an idle signed-in dashboard refreshes by itself while the page is visible (no clicks)', async () => {
    const { context: ctx, watch, sessionStats } = await context();
    const page = await logIn(ctx, demo.url);
    assert.equal(await page.evaluate(() => document.visibilityState), 'visible');
    const oldJti = await shownJti(page);
    const oldGeneration = Number(await page.getByTestId('generation').innerText());
    const refreshAt = Number(await page.getByTestId('next-step').getAttribute('data-refresh-at'));
    const tokenRequests = watch.sessionTokenRequests.length;

    await until(async () => (await shownJti(page)) !== oldJti, await msUntilBuffer(page), 'a refresh without any request');
    const refreshes = watch.sessionTokenRequests.slice(tokenRequests);
    assert.equal(refreshes.length, 1, 'exactly one /session/token request');
    assert.ok(refreshes[0].at >= refreshAt - 1_000, 'at the refresh point, not before');
    assert.equal(watch.apiCalls.length, 0, 'no API call was needed');
    assert.equal(Number(await page.getByTestId('generation').innerText()), oldGeneration + 1, 'one more token generation');
    assert.equal((await sessionStats()).refreshes, 1);
    assert.equal(await page.getByTestId('status').innerText(), 'fresh');
    assert.equal(await page.getByTestId('tab-refreshes').innerText(), '1');
    const newest = page.getByTestId('event').first();
    assert.equal(await newest.locator('.event').innerText(), 'refreshed');
    assert.equal(await newest.getByTestId('event-origin').innerText(), '(this tab)');
    assert.match(await page.getByTestId('token-row').first().innerText(), /refreshed \(this tab\) → token #\d+/);
    assert.ok(Number(await page.getByTestId('next-step').getAttribute('data-refresh-at')) > refreshAt, 'the next refresh is scheduled');
  });

  test('burst inside the buffer: it waits for the buffer, then 50 calls go out at once with the old token while exactly one refresh runs', async () => {
    const { context: ctx, watch, sessionStats } = await context();
    const page = await logIn(ctx, demo.url);
    const oldJti = await shownJti(page);
    const oldGeneration = await page.getByTestId('generation').innerText();
    const tokenRequests = watch.sessionTokenRequests.length;
    const previous = await page.$$eval(LOG_ROWS, (rows) => rows.map((row) => row.dataset.testid));

    await page.getByTestId('burst-in-buffer').click();
    await page.getByTestId('burst-wait').waitFor();
    assert.equal(watch.apiCalls.length, 0, 'nothing is sent while the token is fresh');
    const rows = await waitForNewRows(page, previous, 50, await msUntilBuffer(page));
    assert.ok(rows.every((attempts) => attempts.length === 1 && attempts[0] === `200 · #${oldGeneration}`), `rows: ${JSON.stringify(rows)}`);
    const burst = watch.apiCalls.slice(-50);
    assert.equal(watch.apiCalls.length, 50);
    assert.ok(burst.every((c) => c.jti === oldJti), 'all 50 carried the old token');
    const answers = watch.dataAnswers.slice(-50);
    assert.equal(new Set(answers.map((a) => a.generation)).size, 1, 'the API saw one generation for all 50');

    await until(async () => (await shownJti(page)) !== oldJti, 10_000, 'the refresh to finish');
    assert.equal(watch.sessionTokenRequests.length - tokenRequests, 1, 'exactly one /session/token request for the burst');
    assert.equal((await sessionStats()).refreshes, 1, 'exactly one refresh on the server');
    assert.equal((await sessionStats()).requests, 50);
    await page.getByTestId('burst-refreshes').filter({ hasText: /^1$/ }).waitFor({ timeout: 5_000 });
    assert.equal(await page.getByTestId('burst-sent').innerText(), '50');
    assert.equal(await page.getByTestId('burst-generations').innerText(), `#${oldGeneration}`);
    assert.equal(await page.getByTestId('burst-ok').innerText(), '50');
    assert.match(await page.getByTestId('burst-summary').innerText(), /^Burst inside the buffer: 50 calls went out within \d+ ms/);

    // The screenshot shows the session's count from the server once the page has polled it.
    await page.getByTestId('stat-refreshes').filter({ hasText: /^1$/ }).waitFor({ timeout: 5_000 });
    const shot = join(artifacts, 'dashboard-after-burst.png');
    await page.screenshot({ path: shot, fullPage: false, animations: 'disabled' });
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') copyFileSync(shot, join(root, 'docs', 'demo-dashboard.png'));
  });

  test('the burst hint says when a burst shows a refresh: only while the token is inside the buffer, and that calls do not wait', async () => {
    const { context: ctx } = await context();
    const page = await logIn(ctx, demo.url);
    const hint = await page.getByTestId('burst-hint').innerText();
    assert.match(hint, /expiring/);
    assert.match(hint, /buffer/);
    assert.match(hint, /one refresh/i);
    assert.match(hint, /at once/);
  });

  test('revoke → one 401, one refresh, and the call succeeds on retry with one more token generation', async () => {
    const { context: ctx, sessionStats } = await context();
    const page = await logIn(ctx, demo.url);
    await clickAndWaitForRows(page, 'revoke', 1);
    const before = await sessionStats();
    assert.equal(before.revocations, 1);
    const [attempts] = await clickAndWaitForRows(page, 'call', 1);
    const afterStats = await sessionStats();
    assert.equal(attempts.length, 2, 'retried once');
    const [first, second] = attempts.map((a) => /^(\d+) · #(\d+)$/.exec(a));
    assert.equal(first[1], '401');
    assert.equal(second[1], '200');
    assert.equal(Number(second[2]), Number(first[2]) + 1, 'the retry carried the next token');
    assert.equal(afterStats.unauthorized, before.unauthorized + 1, 'one 401');
    assert.equal(afterStats.refreshes, before.refreshes + 1, 'one refresh');
  });

  test('at 390 px wide: a compact header, no sideways scrolling, the request log readable', async () => {
    const { context: ctx } = await context({ width: 390, height: 844 });
    const phone = await logIn(ctx, demo.url);
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
    await phone.screenshot({ path: join(artifacts, 'dashboard-390px.png'), fullPage: true, animations: 'disabled' });
    assert.ok(layout.pageWidth <= 390, `no sideways scrolling (page is ${layout.pageWidth} px wide)`);
    assert.ok(layout.headerHeight <= 100, `header is ${layout.headerHeight} px tall`);
    assert.ok(layout.buttonsInside, 'every button fits the screen');
    assert.ok(layout.tableRight <= 390, 'the request log fits the screen');
    assert.equal(layout.cellsOverflowing, 0, 'no request-log cell overflows');
    assert.ok(layout.requestLines.length > 0 && layout.requestLines.every((n) => n === 1), `request column lines: ${layout.requestLines}`);
  });

  test('sign out → the page says what to do next, calls go without a token and are not retried', async () => {
    const { context: ctx, watch, sessionStats } = await context();
    const page = await logIn(ctx, demo.url);
    const tokenRequests = watch.sessionTokenRequests.length;
    const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    await page.getByTestId('signout').click();
    await waitForStatus(page, 'signed-out', 5_000);
    assert.match(await page.getByTestId('next-step').innerText(), /^Signed out — log in/);
    assert.equal(await page.getByTestId('login-link').getAttribute('href'), '/login');
    const [attempts] = await clickAndWaitForRows(page, 'call', 1);
    assert.deepEqual(attempts, ['401 · no token']);
    assert.equal(watch.apiCalls.at(-1).token, null);
    assert.equal(watch.sessionTokenRequests.length, tokenRequests, 'no refresh after sign-out');
    const token = await fetch(`${demo.url}/session/token`, { headers: { cookie, 'x-csrf': '1' } }).then((r) => r.status);
    assert.equal(token, 401, "the session is gone on the server (asked with the signed-in cookie)");
    assert.equal(await page.getByTestId('status').innerText(), 'signed-out');
    assert.equal(await sessionStats(), null, 'no session, no session counters');
  });

  test("signing out at the IdP's end-session endpoint ends the demo session through back-channel logout", async () => {
    const { context: ctx, sessionStats } = await context();
    await logIn(ctx, demo.url);
    const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    assert.notEqual(await sessionStats(), null);
    const idp = await ctx.newPage();
    await idp.goto(`${demo.url}/oidc/session/end?client_id=demo-bff`);
    await idp.locator('button[name=logout][value=yes]').click(); // oidc-provider's own confirmation page
    await until(async () => (await sessionStats()) === null, 10_000, 'the back-channel logout to end the session');
    const token = await fetch(`${demo.url}/session/token`, { headers: { cookie, 'x-csrf': '1' } }).then((r) => r.status);
    assert.equal(token, 401, 'the BFF session is gone');
  });

  test('the server-rendered HTML of every page contains no token', async () => {
    const { context: ctx, watch } = await context();
    const page = await logIn(ctx, demo.url);
    await clickAndWaitForRows(page, 'call', 1);
    await clickAndWaitForRows(page, 'revoke', 1);
    await clickAndWaitForRows(page, 'call', 1); // 401 → refresh → retry: a second token
    assert.ok(watch.tokens.size >= 2, `tokens seen: ${watch.tokens.size}`);
    const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    assert.match(cookie, new RegExp(`${SESSION_COOKIE}=`), 'rendered with the logged-in session cookie');
    for (const path of ['/', '/login', '/no-such-page']) {
      const html = await fetch(`${demo.url}${path}`, { headers: { cookie } }).then((r) => r.text());
      assert.match(html, /<app-root/, `${path} was server-rendered`);
      for (const token of watch.tokens) assert.ok(!html.includes(token), `${path} contains an access token`);
      assert.doesNotMatch(html, /eyJ[\w-]{10,}\.eyJ[\w-]{10,}/, `${path} contains something JWT-shaped`);
      assert.doesNotMatch(html, /refresh_token|client_secret/i);
    }
  });
});
