// The BFF's API proxy (issue #26, RFC 10017 §6.1): tokens never reach the browser. Real oidc-provider over
// HTTPS (resource indicators, rotation, reuse detection, client credentials), a real loopback API that
// records what reaches it, and the BFF mounted in the app's server. Token types, path escapes, methods,
// CSRF and Origin, header hygiene, /session/token refusing proxied APIs, the 401 retry, 502/503/504,
// server-sent events event by event, and flat memory for a 200 MB upload and download (a BFF process of
// its own, its peak RSS read from /proc).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import * as bffModule from 'ngx-fresh-token/bff';
import { ensureRedis, freeLoopbackPort } from '../../scripts/ensure-redis.mjs';
import { API_RESOURCE, BFF_CLIENTS, BFF_SCOPE, TEST_SECRETS, bffOptions, cookieJar, jwtClaims, signIn, startBffIdp, startBffTestbed, within } from './helpers/bff-idp.mjs';
import { spawnBffInstance } from './helpers/bff-instance.mjs';
import { startUpstream } from './helpers/upstream.mjs';

const ORDERS = 'https://orders.example.test';
const CATALOG = 'https://catalog.example.test';
const MIXED = 'https://mixed.example.test';
const IDP_APIS = { [ORDERS]: 'orders:read', [CATALOG]: 'catalog:read', [MIXED]: 'mixed:read' };
let up;
let tb;
let deadPort;
const apis = () => ({
  orders: { resource: ORDERS, proxy: { path: '/api/orders', target: `${up.origin}/v1`, token: 'user', forwardHeaders: ['x-app'] } },
  catalog: { resource: CATALOG, proxy: { path: '/api/catalog', target: up.origin, token: 'user-or-none', methods: ['GET'] } },
  reports: { scope: 'api', proxy: { path: '/api/reports', target: up.origin, token: 'client' } },
  mixed: { resource: MIXED, proxy: { path: '/api/mixed', target: up.origin, token: 'user-or-client' } },
  open: { proxy: { path: '/api/open', target: up.origin, token: 'none', forwardSetCookie: true } },
  slow: { proxy: { path: '/api/slow', target: up.origin, token: 'none', timeoutMs: 500 } },
  dead: { proxy: { path: '/api/dead', target: `http://127.0.0.1:${deadPort}`, token: 'none' } },
});

before(async () => {
  up = await startUpstream();
  deadPort = await freeLoopbackPort();
  tb = await startBffTestbed(bffModule, { bff: { resource: API_RESOURCE, apis: apis(), minRefreshIntervalMs: 0 }, idp: { apis: IDP_APIS } });
});
after(async () => {
  await tb?.close();
  await up?.close();
});

/** A same-origin XHR through the proxy, as the interceptor sends it (X-CSRF: 1, no token). */
const call = (jar, path, { method = 'GET', headers = {}, body } = {}) =>
  (jar ?? cookieJar()).fetch(`${tb.app.origin}${path}`, { method, headers: { 'x-csrf': '1', origin: tb.app.origin, ...headers }, body });
const lastSeen = () => up.seen.at(-1);
async function signedIn(loginHint = 'alice') {
  const jar = cookieJar();
  await signIn(jar, tb.app, { loginHint });
  return jar;
}

describe('bff proxy: token types (Duende’s five)', () => {
  test('user: with a session the API gets the session’s token for that API; without one, 401 and nothing is forwarded', async () => {
    const jar = await signedIn();
    const res = await call(jar, '/api/orders/42?x=1');
    assert.equal(res.status, 200);
    const echo = await res.json();
    assert.equal(echo.path, '/v1/42', 'the rest of the path under the target');
    assert.equal(echo.query, '?x=1');
    const token = echo.headers.authorization.replace(/^Bearer /, '');
    assert.equal(jwtClaims(token).aud, ORDERS, 'the API’s own token');
    const before = up.seen.length;
    const anonymous = await call(null, '/api/orders/42');
    assert.equal(anonymous.status, 401);
    assert.equal(up.seen.length, before, 'nothing reached the API');
  });

  test('user-or-none: the user’s token with a session, no token without one', async () => {
    const jar = await signedIn();
    await call(jar, '/api/catalog/items');
    assert.match(lastSeen().headers.authorization ?? '', /^Bearer /);
    const anonymous = await call(null, '/api/catalog/items');
    assert.equal(anonymous.status, 200);
    assert.equal(lastSeen().headers.authorization, undefined);
  });

  test('client: the BFF’s own client-credentials token, one per process for all callers', async () => {
    const requests = tb.idp.tokenRequests.filter((r) => r.grantType === 'client_credentials').length;
    const [a, b] = await Promise.all([call(null, '/api/reports/q1'), call(await signedIn('bob'), '/api/reports/q2')]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const tokens = up.seen.slice(-2).map((s) => s.headers.authorization);
    assert.equal(tokens[0], tokens[1], 'one token for all');
    assert.equal(jwtClaims(tokens[0].slice(7)).client_id, BFF_CLIENTS.client_secret_basic.clientId);
    assert.equal(jwtClaims(tokens[0].slice(7)).sub, BFF_CLIENTS.client_secret_basic.clientId, 'the client itself, no user');
    assert.equal(tb.idp.tokenRequests.filter((r) => r.grantType === 'client_credentials').length - requests, 1);
  });

  test('user-or-client: the user’s token with a session, the BFF’s own without one', async () => {
    const jar = await signedIn('carol');
    await call(jar, '/api/mixed/x');
    assert.equal(jwtClaims(lastSeen().headers.authorization.slice(7)).sub, 'carol');
    await call(null, '/api/mixed/x');
    assert.equal(jwtClaims(lastSeen().headers.authorization.slice(7)).sub, BFF_CLIENTS.client_secret_basic.clientId);
  });

  test('none: no token, even with a session', async () => {
    const jar = await signedIn();
    await call(jar, '/api/open/x');
    assert.equal(lastSeen().headers.authorization, undefined);
  });

  test('/session/token?api=<proxied API> is refused with 403 NFT414: its tokens never leave the server', async () => {
    const jar = await signedIn();
    const res = await jar.fetch(`${tb.app.origin}/session/token?api=orders`, { headers: { 'x-csrf': '1', origin: tb.app.origin } });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).code, 'NFT414');
  });
});

describe('bff proxy: what may pass', () => {
  test('a chunked body on DELETE or OPTIONS goes upstream framed: it can never be read there as a second request (attacker review of #26’s speed-up: request smuggling)', async () => {
    for (const method of ['OPTIONS', 'DELETE', 'POST']) {
      const smuggled = `GET /smuggled-${method} HTTP/1.1\r\nHost: internal\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n`;
      const { port } = new URL(tb.app.origin);
      const answer = await within(
        new Promise((resolve, reject) => {
          const socket = connect(Number(port), '127.0.0.1');
          const chunks = [];
          socket.on('data', (c) => chunks.push(c));
          socket.on('error', reject);
          socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
          socket.write(
            `${method} /api/open/echo HTTP/1.1\r\nHost: ${new URL(tb.app.origin).host}\r\nX-CSRF: 1\r\nOrigin: ${tb.app.origin}\r\n` +
              `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${Buffer.byteLength(smuggled).toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
          );
        }),
        5_000,
        `the ${method} answer`,
      );
      assert.match(answer, /^HTTP\/1\.1 200 /, method);
      // The upstream's own log: the one request, with the smuggled text as its body; never a request of its own.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(up.seen.filter((e) => e.path.startsWith('/smuggled')).length, 0, `${method}: no smuggled request reached the API`);
      const echoed = up.seen.findLast((e) => e.method === method && e.path === '/echo');
      assert.equal(echoed?.bodyBytes, Buffer.byteLength(smuggled), `${method}: the body arrived as a body`);
    }
  });

  test('paths that would leave the API’s path once decoded are refused with 400 and never forwarded', async () => {
    const jar = await signedIn();
    const before = up.seen.length;
    for (const path of ['/api/orders/..%2fadmin', '/api/orders/%2e%2e/admin', '/api/orders/a%5cb', '/api/orders//evil', '/api/orders/%252e%252e/x', '/api/orders/x%00y', '/api/orders/.%2e/admin']) {
      const res = await call(jar, path);
      // A form a URL parser already resolved lands outside the API's path: not the proxy's (the app answers).
      if (res.status !== 400) assert.notEqual(res.headers.get('x-upstream'), 'yes', path);
      else assert.equal((await res.json()).code, 'NFT415', path);
    }
    assert.equal(up.seen.length, before, 'nothing reached the API');
  });

  test('methods are allowlisted per API: 405 with Allow and nothing forwarded', async () => {
    const before = up.seen.length;
    const res = await call(await signedIn(), '/api/catalog/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET');
    assert.equal((await res.json()).code, 'NFT418');
    assert.equal(up.seen.length, before);
  });

  test('CSRF: no X-CSRF, a foreign Origin or Sec-Fetch-Site: cross-site → 403, nothing forwarded', async () => {
    const jar = await signedIn();
    const before = up.seen.length;
    const noHeader = await jar.fetch(`${tb.app.origin}/api/orders/1`);
    const foreign = await call(jar, '/api/orders/1', { headers: { origin: 'https://evil.example' } });
    const crossSite = await jar.fetch(`${tb.app.origin}/api/orders/1`, { headers: { 'x-csrf': '1' }, site: 'cross-site' });
    for (const res of [noHeader, foreign, crossSite]) assert.equal(res.status, 403);
    assert.equal(up.seen.length, before);
  });

  test('header hygiene: no cookie, X-CSRF, browser credentials, hop-by-hop or forged forwarding headers go upstream; the proxy’s own forwarding headers do; upstream Set-Cookie is dropped unless the API allows it', async () => {
    const jar = await signedIn();
    // node:http, so the Connection header goes as written (fetch manages its own).
    const { status, headers: answerHeaders, body } = await new Promise((resolve, reject) => {
      const url = new URL(`${tb.app.origin}/api/orders/echo`);
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: url.port,
          path: url.pathname,
          headers: {
            host: url.host,
            cookie: jar.header(url.href),
            'x-csrf': '1',
            origin: tb.app.origin,
            authorization: 'Bearer browser-made',
            'x-forwarded-for': '6.6.6.6',
            'x-forwarded-host': 'evil.example',
            forwarded: 'for=6.6.6.6',
            connection: 'keep-alive, x-secret',
            'x-secret': 'hop',
            te: 'trailers',
            'proxy-authorization': 'Basic x',
            'x-app': 'kept',
            'x-forwarded-prefix': '/admin',
            'x-original-url': '/admin/users',
            'x-http-method-override': 'DELETE',
            'true-client-ip': '6.6.6.6',
            'x-unlisted': 'dropped',
          },
        },
        (r) => {
          let text = '';
          r.on('data', (d) => (text += d));
          r.on('end', () => resolve({ status: r.statusCode, headers: r.headers, body: text }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200, body);
    const echo = JSON.parse(body);
    const res = { headers: new Headers(Object.entries(answerHeaders).map(([k, v]) => [k, String(v)])) };
    const h = echo.headers;
    for (const name of ['cookie', 'x-csrf', 'x-secret', 'proxy-authorization', 'forwarded', 'x-forwarded-prefix', 'x-original-url', 'x-http-method-override', 'true-client-ip', 'x-unlisted']) {
      assert.equal(h[name], undefined, name);
    }
    assert.notEqual(h.authorization, 'Bearer browser-made', 'the browser’s Authorization never passes');
    assert.equal(h['x-forwarded-host'], new URL(tb.app.origin).host, 'from the configured origin');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.ok(!String(h['x-forwarded-for']).includes('6.6.6.6'), 'the browser’s own X-Forwarded-For is dropped');
    assert.equal(h['x-app'], 'kept', 'a header the API’s forwardHeaders names');
    // The answer: hop-by-hop headers dropped.
    assert.equal(res.headers.get('x-hop'), null);
    assert.equal(res.headers.get('x-upstream'), 'yes');
    const dropped = await call(jar, '/api/orders/set-cookie');
    assert.deepEqual(dropped.headers.getSetCookie(), []);
    const allowed = await call(jar, '/api/open/set-cookie');
    assert.deepEqual(allowed.headers.getSetCookie().map((c) => c.split('=')[0]), ['upstream', 'other'], 'never the BFF’s own cookie');
    assert.equal(allowed.headers.get('clear-site-data'), null);
    assert.equal(allowed.headers.get('service-worker-allowed'), null);
  });
});

describe('bff proxy: hostile cases (attacker review)', () => {
  test('path forms servlet containers, double decoders or Unicode folding treat as traversal are refused: ;, %3b, %25xx, overlong UTF-8, full-width dots, two-dot leaders (U+2025, U+FE30), a full-width slash', async () => {
    const jar = await signedIn();
    const before = up.seen.length;
    for (const path of ['/api/orders/..;/admin', '/api/orders/..%3b/admin', '/api/orders/%25252e%25252e/x', '/api/orders/%C0%AE%C0%AE/admin', '/api/orders/%EF%BC%8E%EF%BC%8E/admin', '/api/orders/a;b', '/api/orders/%E2%80%A5/%E2%80%A5/admin', '/api/orders/%EF%B8%B0/admin', '/api/orders/x%EF%BC%8Fy']) {
      const res = await call(jar, path);
      assert.equal(res.status, 400, path);
    }
    assert.equal(up.seen.length, before, 'nothing reached the API');
    assert.equal((await call(jar, '/api/orders/caf%C3%A9/r%C3%A9sum%C3%A9')).status, 200, 'plain non-ASCII still passes');
    // An ellipsis inside a word is text ('wait…' folds to 'wait...'); a segment of dots only is not. (Look-alikes of
    // a dot itself, such as the full-width '．', stay refused wherever they are.)
    assert.equal((await call(jar, '/api/orders/search/wait%E2%80%A6')).status, 200, 'an ellipsis in a word');
    assert.equal((await call(jar, '/api/orders/%E2%80%A6/admin')).status, 400, 'an ellipsis alone folds to a segment of dots');
  });

  // The path rule under fast-check: paths made of the pieces traversal is built from (dots and slashes, raw and
  // percent-encoded, backslashes, `;`, and Unicode forms that NFKC folds into them). Whatever the path, either it is
  // refused (400, nothing forwarded) or what reaches the API stays under the target path, decoded or folded.
  test('any path of traversal pieces: refused, or what the API sees stays under /v1 even once decoded and NFKC-folded', async () => {
    const jar = await signedIn();
    const piece = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('a', 'b1', '/', '.', '%C3%A9', '~', '-', 'x.json') },
      { weight: 1, arbitrary: fc.constantFrom('..', '%2e', '%2E', '%2f', '%5c', '%3b', ';', '%25', '%E2%80%A5', '%EF%B8%B0', '%EF%BC%8E', '%EF%BC%8F', '%EF%BC%BC', '%E2%80%A4', '%E2%88%95', '%E2%80%A6') },
    );
    const rest = fc.array(piece, { minLength: 1, maxLength: 8 }).map((parts) => `/${parts.join('')}`);
    const underTarget = (seen) => {
      let path = seen.split('?')[0];
      try {
        path = decodeURIComponent(path).normalize('NFKC');
      } catch {
        return false;
      }
      return path.startsWith('/v1/') && !path.replace(/\\/g, '/').split('/').some((segment) => segment === '.' || segment === '..');
    };
    // Sent as written (fetch would resolve raw dot segments before they leave the client).
    const cookie = jar.header(`${tb.app.origin}/`);
    const origin = new URL(tb.app.origin);
    const raw = (path) =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: origin.port, path, headers: { host: origin.host, cookie, 'x-csrf': '1', origin: tb.app.origin } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        req.on('error', reject);
        req.end();
      });
    const tally = { refused: 0, forwarded: 0, notProxied: 0 };
    await fc.assert(
      fc.asyncProperty(rest, async (path) => {
        const before = up.seen.length;
        const status = await raw(`/api/orders${path}`);
        if (up.seen.length === before) {
          // Nothing reached the API: refused by the proxy, or (raw dot segments) resolved by the app's URL parser
          // to a path that is not the API's at all.
          tally[status === 400 ? 'refused' : 'notProxied']++;
          return true;
        }
        tally.forwarded++;
        return status === 200 && up.seen.length === before + 1 && underTarget(lastSeen().path);
      }),
      { numRuns: 250, examples: [['/%E2%80%A5/%E2%80%A5/admin']] },
    );
    assert.ok(tally.refused > 20 && tally.forwarded > 20, `both outcomes were exercised: ${JSON.stringify(tally)}`);
  });

  test('an upstream that answers a plain request with 101 (no upgrade asked) is a 502 at once, not a wait for the timeout', async () => {
    const { createServer: createNetServer } = await import('node:net');
    const raw = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
    });
    await new Promise((resolve) => raw.listen(deadPort, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const res = await call(null, '/api/dead/x');
      assert.equal(res.status, 502);
      assert.ok(Date.now() - started < 5_000, `answered after ${Date.now() - started} ms`);
    } finally {
      await new Promise((resolve) => raw.close(resolve));
    }
    assert.equal((await call(null, '/api/open/x')).status, 200, 'the BFF lives on');
  });

  test('a user-token answer is never cacheable by a shared cache: private, whatever the API says', async () => {
    const res = await call(await signedIn(), '/api/orders/public-cache');
    assert.match(res.headers.get('cache-control'), /^private\b/);
    assert.doesNotMatch(res.headers.get('cache-control'), /public|s-maxage/);
    assert.match(res.headers.get('vary'), /Cookie/);
  });

  test('an upstream status a Response cannot carry (999) is a 502, and the BFF lives on', async () => {
    const res = await call(null, '/api/open/status/999');
    assert.equal(res.status, 502);
    assert.equal((await call(null, '/api/open/x')).status, 200);
  });

  test('a small binary body reaches the API byte for byte', async () => {
    const bytes = new Uint8Array(1024).map((_, i) => (i * 37) % 256);
    bytes[0] = 0xef;
    bytes[1] = 0xbb;
    bytes[2] = 0xbf;
    const res = await call(await signedIn(), '/api/orders/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    assert.equal((await res.json()).bodyBytes, 1024);
  });

  test('a request whose URL is not the app’s origin (a Host with a path in it) is not proxied', async () => {
    const jar = await signedIn();
    const cookie = jar.header(`${tb.app.origin}/`);
    const res = await tb.bff.handle(new Request('http://localhost/api/orders/admin/export', { headers: { cookie, 'x-csrf': '1', origin: tb.app.origin } }));
    assert.equal(res.status, 400);
  });

  test('anonymous calls cannot make the BFF ask the IdP for client tokens without bound (the default minRefreshIntervalMs)', async () => {
    const bounded = await tb.newBff({ resource: API_RESOURCE, apis: apis(), minRefreshIntervalMs: 5_000 }); // the default bound
    tb.mount(bounded);
    try {
      const grants = () => tb.idp.tokenRequests.filter((r) => r.grantType === 'client_credentials').length;
      await call(null, '/api/reports/warm');
      const before = grants();
      up.rejectNext(20);
      for (let i = 0; i < 20; i++) await call(null, '/api/reports/x');
      up.rejectNext(0);
      assert.ok(grants() - before <= 1, `${grants() - before} client-credentials grants for 20 rejected calls`);
    } finally {
      tb.mount(tb.bff);
    }
  });

  test('apis config: a proxied API with user tokens needs a resource of its own, never one the browser can get a token for', async () => {
    const base = { resource: API_RESOURCE };
    for (const [apisConfig, named] of [
      [{ a: { proxy: { path: '/api/a', target: up.origin, token: 'user' } } }, 'apis.a.resource'],
      [{ a: { resource: API_RESOURCE, proxy: { path: '/api/a', target: up.origin, token: 'user-or-none' } } }, 'apis.a.resource'],
      [{ b: { resource: ORDERS }, a: { resource: ORDERS, proxy: { path: '/api/a', target: up.origin, token: 'user' } } }, 'apis.a.resource'],
      [{ a: { resource: ORDERS, proxy: { path: '/api/a', target: up.origin, token: 'user', timeoutMs: 2 ** 31 } } }, 'apis.a.proxy.timeoutMs'],
      [{ a: { resource: ORDERS, proxy: { path: '/api/a', target: up.origin, token: 'user', forwardHeaders: ['X-Forwarded-For'] } } }, 'apis.a.proxy.forwardHeaders'],
    ]) {
      await assert.rejects(bffModule.createBff(bffOptions(tb.idp, tb.app, { ...base, apis: apisConfig })), (err) => err.code === 'NFT401' && err.message.includes(named), named);
    }
  });

  test('handOutTokens: false — /session/token refuses every token: proxy mode only', async () => {
    const bff = await tb.newBff({ resource: API_RESOURCE, apis: apis(), handOutTokens: false });
    tb.mount(bff);
    try {
      const jar = await signedIn();
      const res = await jar.fetch(`${tb.app.origin}/session/token`, { headers: { 'x-csrf': '1', origin: tb.app.origin } });
      assert.equal(res.status, 403);
      assert.equal((await res.json()).code, 'NFT414');
      assert.equal((await call(jar, '/api/orders/x')).status, 200, 'the proxy works');
    } finally {
      tb.mount(tb.bff);
    }
  });
});

describe('bff proxy: when the API says 401, and when things fail', () => {
  test('upstream 401 with a user token: one forced refresh (one redemption), one retry with the new token', async () => {
    const jar = await signedIn('dave');
    await call(jar, '/api/orders/warm');
    const first = lastSeen().headers.authorization;
    const redemptions = tb.idp.counts.refresh_token;
    up.rejectNext(1);
    const res = await call(jar, '/api/orders/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 1 }) });
    assert.equal(res.status, 200);
    const echo = await res.json();
    assert.notEqual(echo.headers.authorization, first, 'retried with a new token');
    assert.equal(echo.bodyBytes, 7, 'the small body was sent again');
    assert.equal(tb.idp.counts.refresh_token - redemptions, 1);
  });

  test('the BFF marks its own "no session" 401 with X-BFF-Session: none; an API’s own 401 goes back unmarked (attacker review 9)', async () => {
    // No session for a 'user' API: the BFF's own answer, marked.
    const anonymous = await call(null, '/api/orders/42');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('x-bff-session'), 'none');
    // A session, and an API that says 401 itself: as it is, unmarked ('none' and 'user' APIs alike).
    const jar = await signedIn('frank');
    const open = await call(jar, '/api/open/status/401');
    assert.equal(open.status, 401);
    assert.equal(open.headers.get('x-bff-session'), null);
    up.rejectNext(2);
    const user = await call(jar, '/api/orders/x');
    assert.equal(user.status, 401, 'the API refused the new token too');
    assert.equal(user.headers.get('x-bff-session'), null, 'the session is alive: not the BFF’s 401');
    up.rejectNext(0);
  });

  test('a large streamed body is not replayed: the API’s 401 goes back as it is', async () => {
    const jar = await signedIn('erin');
    up.rejectNext(1);
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array(100 * 1024));
        controller.close();
      },
    });
    const res = await jar.fetch(`${tb.app.origin}/api/orders/upload`, { method: 'POST', headers: { 'x-csrf': '1', origin: tb.app.origin }, body, duplex: 'half' });
    assert.equal(res.status, 401);
  });

  test('an API that refuses connections → 502, one that does not answer in time → 504, each without a stack', async () => {
    const refused = await call(null, '/api/dead/x');
    assert.equal(refused.status, 502);
    const refusedBody = await refused.text();
    assert.equal(JSON.parse(refusedBody).code, 'NFT416');
    assert.ok(!/at \w+ \(|ECONNREFUSED/.test(refusedBody), 'no stack, no error text');
    const reset = await call(null, '/api/open/reset');
    assert.equal(reset.status, 502);
    const started = Date.now();
    const slow = await call(null, '/api/slow/hang');
    assert.equal(slow.status, 504);
    assert.equal((await slow.json()).code, 'NFT417');
    assert.ok(Date.now() - started < 3_000);
  });

  test('the IdP down while a token is needed → 503 + Retry-After, the session kept', async () => {
    const jar = await signedIn('fred');
    tb.clock.advance(60_000); // the session's token is stale
    tb.idp.inject('token', { status: 503, body: '<html>down</html>' });
    const res = await call(jar, '/api/orders/x');
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    assert.equal((await call(jar, '/api/orders/x')).status, 200);
  });
});

describe('bff proxy: streams', () => {
  test('server-sent events reach the browser event by event', async () => {
    let sentSoFar = 0;
    const onSent = (i) => (sentSoFar = i + 1);
    up.events.on('sse-sent', onSent);
    try {
      const res = await call(null, '/api/open/sse?n=3&gapMs=400');
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      const first = decoder.decode((await within(reader.read(), 2_000, 'the first event')).value);
      assert.match(first, /data: event 0/);
      assert.equal(sentSoFar, 1, 'the first event arrived before the API sent the second');
      let rest = '';
      for (;;) {
        const { done, value } = await within(reader.read(), 3_000, 'the next event');
        if (done) break;
        rest += decoder.decode(value);
      }
      assert.match(rest, /data: event 2/);
    } finally {
      up.events.off('sse-sent', onSent);
    }
  });
});

describe('bff proxy: 200 MB both ways with flat memory (a BFF process of its own)', () => {
  let idp;
  let bff;
  const peakRssMb = (pid) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  before(async () => {
    const port = await freeLoopbackPort();
    const origin = `http://localhost:${port}`;
    idp = await startBffIdp({ appOrigin: origin });
    bff = await spawnBffInstance({
      name: 'proxy-stream',
      port,
      issuer: idp.issuer,
      clientId: BFF_CLIENTS.client_secret_basic.clientId,
      clientSecret: BFF_CLIENTS.client_secret_basic.clientSecret,
      redirectUri: `${origin}/auth/callback`,
      scope: BFF_SCOPE,
      secrets: [TEST_SECRETS[0]],
      store: 'memory',
      apis: { files: { proxy: { path: '/api/files', target: up.origin, token: 'none', methods: ['GET', 'POST'] } } },
      reportRequests: false,
    });
  });
  after(async () => {
    await bff?.stop();
    await idp?.close();
  });

  /** The BFF process's RSS after a full GC (what it retains), asked for over IPC. */
  let asked = 0;
  async function retainedMb() {
    const at = ++asked;
    bff.send({ hook: 'memory', at });
    const m = await bff.nextMessage((msg) => msg.memory?.at === at, 5_000, 'the memory report');
    return m.memory.retained / 1024 / 1024;
  }
  /** Samples retainedMb() every 250 ms while `work` runs; resolves with [result, max sample]. */
  async function sampling(work) {
    let max = 0;
    let running = true;
    const loop = (async () => {
      while (running) {
        max = Math.max(max, await retainedMb());
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    try {
      return [await work(), max];
    } finally {
      running = false;
      await loop;
    }
  }

  test('a 200 MB upload and a 200 MB download pass through; the memory the BFF retains meanwhile stays flat', async () => {
    const MB = 200;
    const baseline = await retainedMb();
    // Upload with node:http (the test's own fetch would buffer the body it sends).
    const [uploaded, upMax] = await sampling(() => new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: bff.port, path: '/api/files/upload?slowMs=1', method: 'POST', headers: { host: `localhost:${bff.port}`, 'x-csrf': '1', origin: `http://localhost:${bff.port}`, 'content-type': 'application/octet-stream', 'content-length': String(MB * 1024 * 1024) } },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode, body: text }));
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(256 * 1024, 1);
      let left = (MB * 1024 * 1024) / chunk.length;
      const pump = () => {
        while (left > 0) {
          left--;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    }));
    assert.equal(uploaded.status, 200, uploaded.body);
    assert.equal(JSON.parse(uploaded.body).bodyBytes, MB * 1024 * 1024);
    const [received, downMax] = await sampling(async () => {
      const res = await fetch(`http://localhost:${bff.port}/api/files/download?mb=${MB}`, { headers: { 'x-csrf': '1', origin: `http://localhost:${bff.port}` } });
      assert.equal(res.status, 200);
      let n = 0;
      for await (const chunk of res.body) n += chunk.length;
      return n;
    });
    assert.equal(received, MB * 1024 * 1024);
    const up = upMax - baseline;
    const down = downMax - baseline;
    console.log(`# proxy streaming, RSS retained by the BFF (after GC): baseline ${baseline.toFixed(1)} MB; during a ${MB} MB upload +${up.toFixed(1)} MB at most; during a ${MB} MB download +${down.toFixed(1)} MB at most`);
    // Bounded, not proportional: a plain Node pipe proxy retains 14–21 MB the same way (buffers in flight), this BFF
    // 16–27 MB in quiet runs; buffering the body would be 200 MB. The bound is half of that: on this 2-core machine,
    // loaded by the rest of the suite, one run in many peaked at +65 MB (GC and the app adapter's Web streams lag).
    assert.ok(up < 100 && down < 100, `retained +${up.toFixed(1)} MB (upload), +${down.toFixed(1)} MB (download)`);
  });
});

describe('bff proxy: 3 instances on Redis share the sessions behind the proxy', () => {
  let redis;
  let idp;
  const instances = [];
  before(async () => {
    redis = await ensureRedis();
    // The IdP listens before the other two ports are picked, so it cannot take one of them.
    const ports = [await freeLoopbackPort()];
    const origins = () => ports.map((p) => `http://localhost:${p}`);
    idp = await startBffIdp({ appOrigin: origins()[0], accessTokenTtlSeconds: 120, apis: IDP_APIS });
    ports.push(await freeLoopbackPort(), await freeLoopbackPort());
    for (let i = 0; i < 3; i++) {
      instances.push(
        await spawnBffInstance({
          name: `proxy-${i + 1}`,
          port: ports[i],
          issuer: idp.issuer,
          clientId: BFF_CLIENTS.client_secret_basic.clientId,
          clientSecret: BFF_CLIENTS.client_secret_basic.clientSecret,
          redirectUri: `${origins()[0]}/auth/callback`,
          allowedOrigins: origins(),
          scope: BFF_SCOPE,
          resource: API_RESOURCE,
          secrets: [TEST_SECRETS[0]],
          store: 'redis',
          redisUrl: redis.url,
          client: i % 2 ? 'ioredis' : 'node-redis',
          prefix: 'nft-proxy:',
          minRefreshIntervalMs: 0,
          apis: { orders: { resource: ORDERS, proxy: { path: '/api/orders', target: `${up.origin}/v1`, token: 'user' } } },
          reportRequests: false,
        }),
      );
    }
  });
  after(async () => {
    await Promise.all(instances.map((b) => b.stop()));
    await idp?.close();
    await redis?.stop();
  });

  test('one session, calls round-robin over the instances: the API sees one token; a 401 on one instance is repaired with one redemption, and every instance then sends the new token', async () => {
    const jar = cookieJar();
    await signIn(jar, { origin: instances[0].origin });
    const via = (i, init = {}) => jar.fetch(`${instances[i % 3].origin}/api/orders/echo`, { ...init, headers: { 'x-csrf': '1', origin: instances[i % 3].origin, ...(init.headers ?? {}) } });
    const tokens = [];
    for (let i = 0; i < 6; i++) {
      const res = await via(i);
      assert.equal(res.status, 200);
      tokens.push((await res.json()).headers.authorization);
    }
    assert.equal(new Set(tokens).size, 1, 'one token across the instances');
    const redemptions = idp.counts.refresh_token;
    up.rejectNext(1);
    const repaired = await via(1);
    assert.equal(repaired.status, 200);
    const fresh = (await repaired.json()).headers.authorization;
    assert.notEqual(fresh, tokens[0]);
    assert.equal(idp.counts.refresh_token - redemptions, 1);
    for (const i of [0, 2]) assert.equal((await (await via(i)).json()).headers.authorization, fresh, `instance ${i + 1} sends the new token`);
    assert.equal(idp.counts.invalid_grant, 0);
  });
});
