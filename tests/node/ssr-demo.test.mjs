// Authenticated SSR (#20) of the built demo (dist/demo/server) behind its real backend: createBff with
// oidc-provider, server.ts handing bff.renderContext(request) to each render. A cookie jar signs in
// through the real redirect chain; the server-rendered HTML is then read as curl would.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { cookieJar, getToken, signIn } from './helpers/bff-idp.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const angularServer = join(root, 'dist/demo/server/server.mjs');

let demo;
let app;
before(async () => {
  // npm test builds the demo before the node stage; a missing build is a failure, not a skip.
  assert.ok(existsSync(angularServer), 'the demo is not built: run npx ng build demo first');
  const { startDemoServer } = await import('../../projects/demo-server/app.mjs');
  demo = await startDemoServer({ port: 0, accessTokenTtlSeconds: 60, angularServer });
  app = { origin: demo.url };
});
after(async () => {
  await demo?.close();
});

async function signedIn(loginHint) {
  const jar = cookieJar();
  await signIn(jar, app, { loginHint });
  return { jar, cookie: jar.header(`${app.origin}/`) };
}

/** GET `path` the way curl does (no JavaScript), with `headers`; resolves { status, headers, html }. */
function curl(path, headers = {}) {
  const url = new URL(path, app.origin);
  return new Promise((resolvePage, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: url.port, path: url.pathname + url.search, headers: { host: url.host, accept: 'text/html', ...headers } }, (res) => {
      let html = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (html += chunk));
      res.on('end', () => resolvePage({ status: res.statusCode, headers: res.headers, html }));
    });
    req.on('error', reject);
    req.end();
  });
}

const text = (html, testId) => {
  const m = new RegExp(`data-testid="${testId}"[^>]*>([^<]*)<`).exec(html);
  return m ? m[1].trim() : null;
};
const ngState = (html) => /<script id="ng-state" type="application\/json">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
const JWT_SHAPED = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.?/;
/** The longest run of base64url characters: session ids, refresh tokens and hashes are 43+. */
const longestRun = (html) => Math.max(0, ...(html.match(/[A-Za-z0-9_-]{30,}/g) ?? []).map((s) => s.length));

describe('authenticated SSR of the demo', () => {
  test('with the session cookie: the dashboard is served signed in, with the user and API data fetched with the token during the render', async () => {
    const { cookie } = await signedIn('alice');
    const before = { ...demo.stats() };
    const page = await curl('/', { cookie });
    assert.equal(page.status, 200, 'the guarded dashboard is served, not redirected');
    assert.equal(text(page.html, 'status'), 'fresh', 'the token panel renders signed in');
    assert.equal(text(page.html, 'session-user-sub'), 'alice');
    assert.equal(text(page.html, 'profile-sub'), 'alice', 'the API answered for alice during the render');
    assert.equal(demo.stats().profileRequestsWithToken, before.profileRequestsWithToken + 1, 'the API saw Authorization once');
    assert.equal(demo.stats().requests, before.requests, 'the request counters are untouched by the render');
    assert.doesNotMatch(page.html, /badge signed-out|>signed-out<|Signed out —/);
    assert.equal(page.headers['cache-control'], 'private, no-store');
    assert.match(String(page.headers.vary), /Cookie/i);
  });

  test('nothing secret in the page: no JWT-shaped string, none of the session\'s tokens, no cookie id, in the HTML or ng-state', async () => {
    const { jar, cookie } = await signedIn('alice');
    const page = await curl('/', { cookie });
    const state = ngState(page.html);
    assert.ok(state.includes('ngx-fresh-token:session'), 'the snapshot is there');
    assert.ok(state.includes('ngx-fresh-token:bodies'), 'the opted-in body is there');
    const { body } = await getToken(jar, app); // the session's cached token: the one the render used
    assert.equal(typeof body.accessToken, 'string');
    for (const where of [page.html, state]) {
      assert.doesNotMatch(where, JWT_SHAPED);
      assert.ok(!where.includes(body.accessToken));
      assert.ok(!where.includes(cookie.split('=')[1]), 'not the session cookie');
      assert.ok(longestRun(where) < 43, 'no 43-character base64url value (refresh token, cookie id, hash)');
    }
  });

  test('without the cookie: the guard redirects on the server, /login renders signed out with the route\'s own headers, and no API call carries a token', async () => {
    const before = { ...demo.stats() };
    const dash = await curl('/');
    assert.equal(dash.status, 302);
    assert.equal(dash.headers.location, '/login?returnUrl=%2F');
    const login = await curl('/login');
    assert.equal(login.status, 200);
    assert.notEqual(login.headers['cache-control'], 'private, no-store');
    assert.ok(!ngState(login.html).includes('ngx-fresh-token:session'), 'no snapshot for a signed-out page');
    // Both answers depend on the cookie (#24): no shared cache may hand them to a signed-in browser.
    assert.match(String(dash.headers['cache-control']), /^private\b/, 'the guard\'s redirect is private');
    assert.match(String(dash.headers.vary), /\bCookie\b/i);
    assert.match(String(login.headers.vary), /\bCookie\b/i, 'a signed-out render with a session context varies on Cookie');
    assert.equal(demo.stats().profileRequests, before.profileRequests, 'no API call at all');
    assert.equal(demo.stats().profileRequestsWithToken, before.profileRequestsWithToken);
  });

  test('100 concurrent renders alternating two users: every page holds only its own user', async () => {
    const users = [await signedIn('alice'), await signedIn('bob')];
    const before = demo.stats().profileRequestsWithToken;
    const pages = await Promise.all(Array.from({ length: 100 }, (_, i) => curl('/', { cookie: users[i % 2].cookie })));
    pages.forEach((page, i) => {
      const [own, other] = i % 2 ? ['bob', 'alice'] : ['alice', 'bob'];
      assert.equal(page.status, 200);
      assert.equal(text(page.html, 'session-user-sub'), own, `render ${i}`);
      assert.equal(text(page.html, 'profile-sub'), own, `render ${i}: the API saw ${own}'s token`);
      assert.ok(!page.html.includes(`>${other}<`), `render ${i} holds nothing of ${other}`);
    });
    assert.equal(demo.stats().profileRequestsWithToken, before + 100);
  });

  test('a render for another Host (allowed by allowedHosts, not the configured origin) attaches no token', async () => {
    const { cookie } = await signedIn('alice');
    const before = { ...demo.stats() };
    const port = new URL(app.origin).port;
    const page = await curl('/', { cookie, host: `127.0.0.1:${port}` });
    assert.equal(page.status, 200);
    assert.equal(demo.stats().profileRequests, before.profileRequests + 1, 'the API was called');
    assert.equal(demo.stats().profileRequestsWithToken, before.profileRequestsWithToken, 'without the token');
    assert.equal(text(page.html, 'profile-sub'), null);
    assert.doesNotMatch(page.html, JWT_SHAPED);
  });

  test('a Host outside allowedHosts is refused by Angular before any render', async () => {
    const { cookie } = await signedIn('alice');
    const before = { ...demo.stats() };
    const page = await curl('/', { cookie, host: 'evil.example' });
    assert.equal(page.status, 400);
    assert.equal(demo.stats().profileRequests, before.profileRequests);
  });
});
