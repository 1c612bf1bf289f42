// The session-endpoint (backend-for-frontend) pattern end to end in Node: a loopback server keeps
// sessions behind an http-only cookie and serves short-lived access tokens through
// createSessionTokenHandler (Web Request → Response); withSessionEndpoint is the token source of
// an app whose fetch carries cookies like a browser's (a small cookie jar stands in for it).
import { createRootInjector } from './helpers/injector.mjs';
import { untilStatus } from './helpers/wait.mjs';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { HttpClient, provideHttpClient, withFetch, withInterceptors } from '@angular/common/http';
import { firstValueFrom } from 'rxjs';
import { AuthService, freshTokenInterceptor, provideFreshToken, withAuthorizedUrls, withRefreshBuffer } from 'ngx-fresh-token';
import { withSessionEndpoint } from 'ngx-fresh-token/oauth';
import { createSessionTokenHandler } from 'ngx-fresh-token/oauth/server';

const TOKEN_TTL_SECONDS = 3;
let server;
let origin;
const sessions = new Map(); // sid → { user }
const issued = new Map(); // access token → expiresAt
const tokenCalls = [];
const apiCalls = [];
let issuedCount = 0;

const handler = createSessionTokenHandler({
  getSession: (request) => {
    const sid = /(?:^|;\s*)sid=([^;]+)/.exec(request.headers.get('cookie') ?? '')?.[1];
    return sid ? sessions.get(sid) : null;
  },
  issueAccessToken: (session) => {
    const accessToken = `at-${session.user}-${++issuedCount}`;
    issued.set(accessToken, Date.now() + TOKEN_TTL_SECONDS * 1000);
    return { accessToken, expiresIn: TOKEN_TTL_SECONDS };
  },
});

/** Node http → Web Request → handler → Web Response → Node http, as any adapter would. */
async function serveWeb(req, res, webHandler) {
  const request = new Request(new URL(req.url, origin), { method: req.method, headers: req.headers });
  const response = await webHandler(request);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(await response.text());
}

before(async () => {
  server = createServer(async (req, res) => {
    if (req.url === '/session/token') {
      tokenCalls.push({ cookie: req.headers.cookie ?? null, atMs: Date.now() });
      return serveWeb(req, res, handler);
    }
    if (req.url === '/login') {
      const sid = `s${sessions.size + 1}`;
      sessions.set(sid, { user: 'ada' });
      res.writeHead(204, { 'set-cookie': `sid=${sid}; HttpOnly; Path=/; SameSite=Lax` });
      return res.end();
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const ok = !!token && (issued.get(token) ?? 0) > Date.now();
    apiCalls.push({ token, ok });
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

/** A browser-like fetch: a cookie jar for the server's origin, used only when credentials are included. */
function withCookieJar() {
  const realFetch = globalThis.fetch;
  const jar = new Map();
  const credentialsSeen = [];
  globalThis.fetch = async (input, init = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const credentials = init.credentials ?? (input instanceof Request ? input.credentials : 'same-origin');
    credentialsSeen.push({ path: url.pathname, credentials });
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    if (url.origin === origin && credentials === 'include' && jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await realFetch(input, { ...init, headers });
    for (const c of res.headers.getSetCookie()) {
      const [k, v] = c.split(';')[0].split('=');
      jar.set(k, v);
    }
    return res;
  };
  return { jar, credentialsSeen, restore: () => (globalThis.fetch = realFetch) };
}

describe('withSessionEndpoint + createSessionTokenHandler', () => {
  let browser;
  before(() => (browser = withCookieJar()));
  after(() => browser.restore());

  function app() {
    const injector = createRootInjector([
      provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor])),
      provideFreshToken(withSessionEndpoint({ url: `${origin}/session/token` }), withAuthorizedUrls(`${origin}/api`), withRefreshBuffer(1_000)),
    ]);
    const auth = injector.get(AuthService);
    const events = [];
    auth.events$.subscribe((e) => events.push(e));
    return { injector, auth, events, http: injector.get(HttpClient) };
  }

  test('signed out without a session cookie: 401 from the endpoint means null, and the API call goes without a token', async () => {
    const { auth, http, injector } = app();
    assert.equal(await auth.getValidToken(), null);
    assert.equal(auth.state().status, 'signed-out');
    await assert.rejects(firstValueFrom(http.get(`${origin}/api/me`)), (e) => e.status === 401);
    assert.equal(apiCalls.at(-1).token, undefined);
    injector.destroy();
  });

  test('serves a token with the cookie, caches it, renews it inside the buffer, and 401 after logout signs out', async () => {
    await fetch(`${origin}/login`, { credentials: 'include' });
    assert.ok(browser.jar.has('sid'));
    const { auth, http, events, injector } = app();
    const before = tokenCalls.length;
    assert.deepEqual(await firstValueFrom(http.get(`${origin}/api/me`)), { ok: true });
    const first = auth.state().token;
    assert.match(first, /^at-ada-/);
    assert.equal(tokenCalls.length - before, 1);
    assert.match(tokenCalls.at(-1).cookie, /sid=/, 'the token request carried the session cookie');
    assert.ok(browser.credentialsSeen.some((c) => c.path === '/session/token' && c.credentials === 'include'));
    for (let i = 0; i < 5; i++) await firstValueFrom(http.get(`${origin}/api/items/${i}`));
    assert.equal(tokenCalls.length - before, 1, 'cached');
    // Into the 1 s buffer of a 3 s token, before expiry: state$ says when.
    await untilStatus(auth, 'expiring');
    assert.ok(Date.now() < auth.state().expiresAt, 'still before expiry');
    assert.deepEqual(await firstValueFrom(http.get(`${origin}/api/late`)), { ok: true });
    assert.equal(tokenCalls.length - before, 2, 'renewed once inside the buffer');
    assert.notEqual(auth.state().token, first);
    // The server ends the session (logout elsewhere): the next refresh gets 401 → signed out.
    sessions.clear();
    assert.equal(await auth.refresh(), null);
    assert.equal(auth.state().status, 'signed-out');
    assert.equal(events.at(-1).type, 'signed-out');
    assert.ok(apiCalls.every((c) => c.token === undefined || c.ok), 'the API never got an expired token');
    injector.destroy();
  });
});

describe('createSessionTokenHandler', () => {
  const session = { user: 'bob' };
  const h = createSessionTokenHandler({
    getSession: (req) => (req.headers.get('cookie') === 'sid=ok' ? session : req.headers.get('cookie') === 'sid=boom' ? Promise.reject(new Error('db secret xyz')) : null),
    issueAccessToken: () => ({ accessToken: 'at-1', expiresAt: 1_000_000 + 300_000 }),
    now: () => 1_000_000,
  });
  // As withSessionEndpoint() sends it: X-CSRF: 1 on every call (the handler refuses calls without it, see below).
  const call = (init = {}) => h(new Request('http://app.example/session/token', { ...init, headers: { 'x-csrf': '1', ...init.headers } }));

  test('200 with accessToken, expiresAt and expiresIn, never cached', async () => {
    const res = await call({ headers: { cookie: 'sid=ok' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { accessToken: 'at-1', expiresAt: 1_300_000, expiresIn: 300 });
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('content-type'), 'application/json');
  });

  test('401 without a session, 403 cross-site, 405 for other methods, 500 without details when a callback throws', async () => {
    assert.equal((await call()).status, 401);
    assert.equal((await call({ headers: { cookie: 'sid=ok', 'sec-fetch-site': 'cross-site' } })).status, 403);
    const put = await call({ method: 'PUT', headers: { cookie: 'sid=ok' } });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, POST');
    const boom = await call({ headers: { cookie: 'sid=boom' } });
    assert.equal(boom.status, 500);
    assert.doesNotMatch(await boom.text(), /secret/);
    assert.equal((await call({ method: 'POST', headers: { cookie: 'sid=ok', 'sec-fetch-site': 'same-origin' } })).status, 200);
  });

  test('403 without X-CSRF: 1, before any session is read', async () => {
    const res = await h(new Request('http://app.example/session/token', { method: 'POST', headers: { cookie: 'sid=ok', 'content-type': 'text/plain' }, body: 'x' }));
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), { error: 'csrf_header_required' });
  });

  test('rejects options without its two callbacks', () => {
    assert.throws(() => createSessionTokenHandler({ getSession: () => null }), /NFT303/);
  });
});
