// bff.handleNode(req, res) (issue #26, the proxy's performance): the BFF mounted on node:http without a Web
// Request/Response adapter. The proxy's rules through it are the proxy suite again (bff-proxy-node.test.mjs,
// bff-dpop-node.test.mjs); these are handleNode's own: it answers every route of the BFF (sign-in to sign-out
// against the real oidc-provider), leaves other paths and their bodies to the app, keeps what the app's server set
// before it (Express's headers) without folding repeated lines, decides the origin from the socket and Host (or
// `info.origin` behind a proxy that terminates TLS), forwards the socket's address, and ends the upstream call
// when the browser goes away.
import '@angular/compiler'; // @angular/ssr's partially compiled injectables, outside an Angular build
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createWebRequestFromNodeRequest, writeResponseToNodeResponse } from '@angular/ssr/node';
import fc from 'fast-check';
import * as bffModule from 'ngx-fresh-token/bff';
import { bffOptions, cookieJar, getUser, signIn, startBffIdp, within } from './helpers/bff-idp.mjs';
import { startUpstream } from './helpers/upstream.mjs';

let up; // the loopback API of the proxy suite (echo, set-cookie, …)
let slow; // an API that streams slowly and records whether its answer was cut short
let idp;
let bff;
let server;
let webServer; // the same BFF through bff.handle() behind @angular/ssr/node's adapter, for the differential property
const app = { origin: '' };
const webApp = { origin: '' };
/** What the app's own handler saw: paths and body sizes of requests handleNode left to it. */
const appSaw = [];
/** What the BFF logged. */
const warnings = [];
/** The `info` handleNode is called with (per test). */
let info;
/** Headers the app's server sets before the BFF (as Express does with X-Powered-By). */
let preset = {};
/** An async middleware's wait before the BFF (ms; 0: none). */
let delayMs = 0;
/** handleNode calls that have not settled yet. */
const pending = { count: 0 };

before(async () => {
  up = await startUpstream();
  slow = await startSlowApi();
  server = createServer(async (req, res) => {
    for (const [name, value] of Object.entries(preset)) res.setHeader(name, value);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    pending.count++;
    try {
      if (bff && (await bff.handleNode(req, res, info))) return;
    } catch (err) {
      res.writeHead(598, { 'content-type': 'text/plain' });
      return res.end(`handleNode rejected: ${err?.code ?? err?.message}`);
    } finally {
      pending.count--;
    }
    // The app: reads the whole body, so a byte handleNode took would show.
    let bytes = 0;
    req.on('data', (chunk) => (bytes += chunk.length));
    await once(req, 'end');
    appSaw.push({ method: req.method, path: req.url, bytes });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ app: true, path: req.url, bytes }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  app.origin = `http://localhost:${server.address().port}`;
  webServer = createServer(async (req, res) => {
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    try {
      const response = bff ? await bff.handle(createWebRequestFromNodeRequest(req), { clientAddress: req.socket.remoteAddress }) : null;
      if (response) return await writeResponseToNodeResponse(response, res);
    } catch (err) {
      res.writeHead(597, { 'content-type': 'text/plain' });
      return res.end(`handle failed: ${err?.code ?? err?.message}`);
    }
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ app: true, path: req.url, bytes: 0 }));
  });
  webServer.listen(0, '127.0.0.1');
  await once(webServer, 'listening');
  webApp.origin = `http://localhost:${webServer.address().port}`;
  idp = await startBffIdp({ appOrigin: app.origin, apis: { 'https://orders.example.test': 'orders:read' } });
  bff = await bffModule.createBff(
    bffOptions(idp, app, {
      allowedOrigins: [app.origin, webApp.origin],
      logger: { warn: (message) => warnings.push(message) },
      apis: {
        orders: { resource: 'https://orders.example.test', proxy: { path: '/api/orders', target: `${up.origin}/v1`, token: 'user' } },
        open: { proxy: { path: '/api/open', target: up.origin, token: 'none', forwardSetCookie: true } },
        slow: { proxy: { path: '/api/slow', target: slow.origin, token: 'none' } },
        cookies: { proxy: { path: '/api/cookies', target: slow.origin, token: 'none', forwardSetCookie: true } },
      },
    }),
  );
});
after(async () => {
  await bff?.close();
  server?.closeAllConnections?.();
  server?.close();
  webServer?.closeAllConnections?.();
  webServer?.close();
  await idp?.close();
  await up?.close();
  await slow?.close();
});

/** An API that answers /stream with 1 KB every 20 ms for 10 s, and records whether the answer ended early and how many answers are open. */
async function startSlowApi() {
  const cut = [];
  const open = { count: 0 };
  const s = createServer((req, res) => {
    open.count++;
    res.on('close', () => open.count--);
    if (req.url.startsWith('/cookie?line=')) {
      // One Set-Cookie line of the test's choosing (base64url of its latin1 bytes).
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': [Buffer.from(req.url.slice(13), 'base64url').toString('latin1')] });
      return res.end('{}');
    }
    if (req.url === '/nameless-cookies') {
      // Nameless cookies a browser stores and sends back as `nft-session=…` (RFC 6265bis), and one ordinary cookie.
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['=__Host-nft-session=forged; Path=/; Secure', '=nft-session-tx.abc=x; Path=/', 'bare-value', 'ok=1; Path=/'] });
      return res.end('{}');
    }
    if (req.url === '/no-content') {
      res.writeHead(204, { 'content-length': '38' }); // a length on a 204: not allowed (RFC 9110 §8.6)
      return res.end();
    }
    if (req.url === '/latin1') {
      // A header value with a byte over 0x7f (latin1 é), on an answer large enough to stream.
      res.writeHead(200, { 'content-type': 'application/pdf', 'content-disposition': 'attachment; filename="r\u00e9sum\u00e9.pdf"', 'content-length': String(100 * 1024) });
      return res.end(Buffer.alloc(100 * 1024, 1));
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const timer = setInterval(() => res.write(Buffer.alloc(1024, 97)), 20);
    const end = setTimeout(() => {
      clearInterval(timer);
      res.end();
    }, 10_000);
    res.on('close', () => {
      clearInterval(timer);
      clearTimeout(end);
      if (!res.writableFinished) cut.push(req.url);
    });
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return {
    origin: `http://127.0.0.1:${s.address().port}`,
    cut,
    open,
    close: () => new Promise((resolve) => (s.closeAllConnections(), s.close(() => resolve()))),
  };
}

/** A raw request to the app's server (any Host header; fetch would not send one of its own). */
function raw(path, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${app.origin}${path}`, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
/** Writes `bytes` (a whole request, ending in Connection: close) to `origin`'s port and resolves with every byte of the answer. */
function rawExchange(origin, bytes) {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(origin).port), '127.0.0.1');
    const chunks = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.write(bytes);
  });
}

/** One raw HTTP/1.1 request (the request target exactly as given) to `origin`: { status, body }. */
async function rawTarget(origin, target, headers) {
  const lines = Object.entries(headers).map(([n, v]) => `${n}: ${v}\r\n`).join('');
  const text = (await rawExchange(origin, `GET ${target} HTTP/1.1\r\nHost: ${new URL(origin).host}\r\n${lines}Connection: close\r\n\r\n`)).toString('latin1');
  return { status: Number(text.slice(9, 12)), body: text.slice(text.indexOf('\r\n\r\n') + 4) };
}
/** What an answer says about where a request went: the status, and the path and query that reached the API or the app. */
function verdict({ status, body }) {
  // A chunked body: the JSON is the line that starts with '{'.
  const json = body.split('\r\n').find((line) => line.startsWith('{'));
  let parsed = null;
  try {
    parsed = json ? JSON.parse(json) : null;
  } catch {
    parsed = null;
  }
  return { status, app: parsed?.app === true, path: parsed?.path ?? null, query: parsed?.query ?? null, code: parsed?.code ?? null };
}

const xhr = (jar, extra = {}) => ({ 'x-csrf': '1', origin: app.origin, ...(jar ? { cookie: jar.header(app.origin) } : {}), ...extra });

describe('bff.handleNode: the BFF on node:http', () => {
  test('every route of the BFF through it: sign-in at the real IdP, /session/user, a proxied call with the session’s token, sign-out', async () => {
    info = undefined;
    preset = {};
    const jar = cookieJar();
    const { callback } = await signIn(jar, app, { loginHint: 'alice' });
    assert.equal(callback.status, 200, 'the callback page');
    const user = await getUser(jar, app);
    assert.equal(user.status, 200);
    assert.equal(user.body.user.sub, 'alice');
    const proxied = await jar.fetch(`${app.origin}/api/orders/7?q=1`, { headers: xhr(null) });
    assert.equal(proxied.status, 200);
    const echo = await proxied.json();
    assert.equal(echo.path, '/v1/7');
    assert.equal(echo.query, '?q=1');
    assert.match(echo.headers.authorization, /^Bearer /, 'the session’s token upstream');
    assert.equal(echo.headers.cookie, undefined, 'never the browser’s cookies');
    assert.equal(echo.headers['x-forwarded-for'], '127.0.0.1', 'the socket’s address by default');
    assert.equal(proxied.headers.get('cache-control'), 'private', 'a user’s answer is private');
    const logout = await jar.fetch(`${app.origin}/auth/logout`, { method: 'POST', headers: xhr(null) });
    assert.ok([200, 303].includes(logout.status), `sign-out answered ${logout.status}`);
    const after = await jar.fetch(`${app.origin}/api/orders/7`, { headers: xhr(null) });
    assert.equal(after.status, 401);
    assert.equal(after.headers.get('x-bff-session'), 'none');
    assert.equal(appSaw.length, 0, 'the app saw none of these');
  });

  test('a path that is not the BFF’s resolves false with nothing read: the app gets the whole body', async () => {
    info = undefined;
    preset = {};
    appSaw.length = 0;
    const body = Buffer.alloc(200 * 1024, 7);
    const res = await raw('/upload?x=1', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }, body });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text), { app: true, path: '/upload?x=1', bytes: body.length });
    // A path that only starts like a proxied one, and one outside the BFF's routes.
    const lookalike = await raw('/api/ordersX/1', { headers: xhr(null) });
    assert.equal(JSON.parse(lookalike.text).app, true);
    assert.deepEqual(appSaw.map((s) => s.path), ['/upload?x=1', '/api/ordersX/1']);
  });

  test('headers the app set before it are kept, and every Set-Cookie line of an API that may set cookies still reaches the browser', async () => {
    info = undefined;
    preset = { 'x-powered-by': 'Express', 'x-frame-options': 'DENY' };
    try {
      const res = await raw('/api/open/set-cookie', { headers: xhr(null) });
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-powered-by'], 'Express');
      assert.equal(res.headers['x-frame-options'], 'DENY');
      // Two cookies of the API, as two lines (node:http's setHeader would keep only the last of a repeated name);
      // the one named as the BFF's own session cookie never.
      assert.deepEqual(res.headers['set-cookie'], ['upstream=1; Path=/', 'other=2; Path=/']);
      assert.equal(res.headers['clear-site-data'], undefined);
    } finally {
      preset = {};
    }
    const plain = await raw('/api/open/set-cookie', { headers: xhr(null) });
    assert.deepEqual(plain.headers['set-cookie'], ['upstream=1; Path=/', 'other=2; Path=/'], 'and without preset headers');
  });

  test('the origin: the socket’s scheme and Host by default (a foreign Host: 400, nothing forwarded); info.origin behind a proxy that terminates TLS; a bad info.origin rejects NFT401', async () => {
    preset = {};
    info = undefined;
    const seen = up.seen.length;
    const foreign = await raw('/api/open/echo', { headers: { ...xhr(null), host: 'evil.example' } });
    assert.equal(foreign.status, 400);
    assert.equal(JSON.parse(foreign.text).code, 'NFT415');
    assert.equal(up.seen.length, seen, 'nothing forwarded');
    // Behind a TLS-terminating proxy the server tells the origin the browser called (an allowed one here).
    info = { origin: app.origin };
    const told = await raw('/api/open/echo', { headers: { ...xhr(null), host: 'internal-name:8080' } });
    assert.equal(told.status, 200);
    info = { origin: 'https://not-allowed.example' };
    const notAllowed = await raw('/api/open/echo', { headers: xhr(null) });
    assert.equal(notAllowed.status, 400);
    for (const origin of ['https://app.example/path', 'not a url', 'https://app.example/']) {
      info = { origin };
      const bad = await raw('/api/open/echo', { headers: xhr(null) });
      assert.equal(bad.status, 598, origin);
      assert.equal(bad.text, 'handleNode rejected: NFT401', origin);
    }
    info = { clientAddress: '203.0.113.9' };
    const address = await raw('/api/open/echo', { headers: xhr(null) });
    assert.equal(JSON.parse(address.text).headers['x-forwarded-for'], '203.0.113.9', 'info.clientAddress when given');
    info = undefined;
  });

  test('the BFF’s own checks answer through it as JSON without a stack (CSRF 403, path 400, method 405)', async () => {
    info = undefined;
    preset = {};
    const noCsrf = await raw('/api/open/echo', { headers: { origin: app.origin } });
    assert.equal(noCsrf.status, 403);
    assert.equal(JSON.parse(noCsrf.text).code, 'NFT407');
    const escape = await raw('/api/open/a%2f..%2fx', { headers: xhr(null) });
    assert.equal(escape.status, 400);
    assert.equal(JSON.parse(escape.text).code, 'NFT415');
    const method = await raw('/api/open/echo', { method: 'TRACE', headers: xhr(null) });
    assert.equal(method.status, 405);
    assert.match(method.headers.allow, /GET/);
    for (const r of [noCsrf, escape, method]) assert.doesNotMatch(r.text, /at \w+ \(|Error:/);
  });

  test('property: any request target is answered by handleNode as by handle() behind @angular/ssr/node’s adapter (the same status, the same path upstream or to the app)', async () => {
    info = undefined;
    preset = {};
    const piece = fc.constantFrom('/api/open', '/api/orders', '/api/ordersX', '/auth/login', '/session/user', '/', '/echo', '/..', '/.', '/%2e', '/%2E%2e', '/%2f', '/%5c', '\\', ';', '%3b', '//', '/a', '%20', '%', '%25', '?x=1', '#f', '~', '%EF%BC%8E', '%E2%80%A5', '%C0%AE', '@', ':');
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 6 }), fc.boolean(), async (pieces, csrf) => {
        const joined = pieces.join('');
        const target = joined.startsWith('/') ? joined : `/${joined}`; // '//x/…' too: a path, not a host
        const headers = (origin) => (csrf ? { 'x-csrf': '1', origin } : {});
        const viaNode = verdict(await rawTarget(app.origin, target, headers(app.origin)));
        const viaWeb = verdict(await rawTarget(webApp.origin, target, headers(webApp.origin)));
        assert.deepEqual(viaNode, viaWeb, `target ${target}`);
      }),
      // Seeded with the forms where URL parsers part ways: '//host/…' (a path, or a host?), an absolute-form-looking path.
      { numRuns: 150, examples: [[['//', 'a', '/api/open', '/echo'], true], [['//', '@', '/api/orders'], true], [['/', '/api/open', '/..', '/api/orders'], true]] },
    );
  });

  test('a Host header with more than a host and port never reaches the URL: no path, query or userinfo from it', async () => {
    info = undefined;
    preset = {};
    const seen = up.seen.length;
    for (const host of [`${new URL(app.origin).host}/api/open/echo?`, `x@${new URL(app.origin).host}`, `${new URL(app.origin).host}#`, `${new URL(app.origin).host}\\api`]) {
      const res = await raw('/api/open/echo', { headers: { ...xhr(null), host } });
      assert.equal(res.status, 400, host);
      assert.equal(JSON.parse(res.text).code, 'NFT415', host);
    }
    // And a BFF route named only by a Host is not the BFF's: the app gets the path the request line names.
    appSaw.length = 0;
    const routed = await raw('/page', { headers: { host: `${new URL(app.origin).host}/session/user?` } });
    assert.equal(JSON.parse(routed.text).app, true);
    assert.deepEqual(appSaw.map((a) => a.path), ['/page']);
    assert.equal(up.seen.length, seen, 'nothing forwarded');
  });

  test('a browser gone before the BFF starts (an async middleware in front) costs no upstream call that outlives it, through handleNode and handle() (attacker review: upstream connections leaked)', async () => {
    info = undefined;
    preset = {};
    delayMs = 100;
    try {
      for (const origin of [app.origin, webApp.origin]) {
        for (let i = 0; i < 5; i++) {
          const socket = connect(Number(new URL(origin).port), '127.0.0.1');
          await once(socket, 'connect');
          socket.write(`GET /api/slow/stream HTTP/1.1\r\nHost: ${new URL(origin).host}\r\nX-CSRF: 1\r\nOrigin: ${origin}\r\n\r\n`);
          socket.resetAndDestroy();
        }
        await new Promise((r) => setTimeout(r, 400)); // the middleware's wait, and then the BFF
        const deadline = Date.now() + 3_000;
        while (slow.open.count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(slow.open.count, 0, `${origin === app.origin ? 'handleNode' : 'handle()'}: no answer of the API still streaming to nobody`);
      }
    } finally {
      delayMs = 0;
    }
  });

  test('a header byte over 0x7f reaches the browser as the API sent it, on a streamed answer too (attacker review: flushHeaders wrote UTF-8)', async () => {
    info = undefined;
    preset = {};
    // handleNode only: @angular/ssr/node's writeResponseToNodeResponse (handle()'s usual adapter) writes such a header as UTF-8.
    for (const origin of [app.origin]) {
      const answer = await within(
        rawExchange(origin, `GET /api/slow/latin1 HTTP/1.1\r\nHost: ${new URL(origin).host}\r\nX-CSRF: 1\r\nOrigin: ${origin}\r\nConnection: close\r\n\r\n`),
        5_000,
        'the streamed answer',
      );
      const head = answer.subarray(0, answer.indexOf('\r\n\r\n'));
      assert.ok(head.includes(Buffer.from('filename="r\xe9sum\xe9.pdf"', 'latin1')), `the é as the byte e9 — ${head.toString('latin1')}`);
    }
  });

  test('TRACE (which no Web Request can carry) to a BFF route: 405 with Allow, no 500 and no log line (attacker review: 500 plus a warning per request)', async () => {
    info = undefined;
    preset = {};
    warnings.length = 0;
    // (node:http's parser refuses TRACK itself, and hands CONNECT to the server's 'connect' event.)
    for (const [path, allow] of [['/session/user', 'GET'], ['/auth/logout', 'POST'], ['/session/token', 'GET, POST']]) {
      const res = await raw(path, { method: 'TRACE', headers: xhr(null) });
      assert.equal(res.status, 405, path);
      assert.equal(res.headers.allow, allow, path);
    }
    assert.deepEqual(warnings, []);
  });

  test('a 204 goes to the browser without a Content-Length; headers the browser’s Connection names are not forwarded; a cookie the app set before stays next to the API’s (attacker review)', async () => {
    info = undefined;
    preset = {};
    const empty = await raw('/api/slow/no-content', { headers: xhr(null) });
    assert.equal(empty.status, 204);
    assert.equal(empty.headers['content-length'], undefined);
    const hop = await raw('/api/open/echo', { headers: { ...xhr(null), connection: 'accept-language', 'accept-language': 'fr', 'user-agent': 'kept' } });
    const seen = JSON.parse(hop.text).headers;
    assert.equal(seen['accept-language'], undefined, 'named by Connection: this hop only');
    assert.equal(seen['user-agent'], 'kept');
    preset = { 'set-cookie': ['app=1; Path=/'] };
    try {
      const cookies = await raw('/api/open/set-cookie', { headers: xhr(null) });
      assert.deepEqual(cookies.headers['set-cookie'], ['app=1; Path=/', 'upstream=1; Path=/', 'other=2; Path=/']);
    } finally {
      preset = {};
    }
  });

  test('a browser gone mid-way through a small body (kept for the 401 retry): handleNode settles, nothing is logged (second attacker review: it hung for good, and handle() logged a line per connection)', async () => {
    info = undefined;
    preset = {};
    warnings.length = 0;
    for (const wait of [300, 0]) {
      delayMs = wait;
      try {
        for (let i = 0; i < 5; i++) {
          const socket = connect(Number(new URL(app.origin).port), '127.0.0.1');
          await once(socket, 'connect');
          socket.write(`POST /api/open/x HTTP/1.1\r\nHost: ${new URL(app.origin).host}\r\nOrigin: ${app.origin}\r\nX-CSRF: 1\r\nContent-Length: 60000\r\n\r\n${'a'.repeat(100)}`);
          setTimeout(() => socket.destroy(), 50);
        }
        const deadline = Date.now() + 3_000;
        while ((pending.count > 0 || Date.now() < deadline - 2_400) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(pending.count, 0, `wait ${wait} ms: every handleNode call settled`);
      } finally {
        delayMs = 0;
      }
    }
    assert.deepEqual(warnings, [], 'a browser that left is not a server error');
  });

  test('an API that may set cookies still never sets a nameless one (the browser would send it back as the BFF’s own: second attacker review)', async () => {
    info = undefined;
    preset = {};
    const res = await raw('/api/cookies/nameless-cookies', { headers: xhr(null) });
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers['set-cookie'], ['ok=1; Path=/']);
  });

  test('property: no Set-Cookie line an API may set reaches the browser as one that comes back named as the BFF’s own cookie (RFC 6265bis parsing on the browser’s side)', async () => {
    info = undefined;
    preset = {};
    const own = (name) => name === '__Host-nft-session' || name.startsWith('__Host-nft-session-tx.');
    /** What a browser stores for a Set-Cookie line, and the name the BFF then reads from its Cookie header. */
    const readBack = (line) => {
      const pair = line.split(';', 1)[0];
      const eq = pair.indexOf('=');
      const wsp = (t) => t.replace(/^[ \t]+|[ \t]+$/g, '');
      const sent = eq < 0 ? wsp(pair) : wsp(pair.slice(0, eq)) === '' ? wsp(pair.slice(eq + 1)) : `${wsp(pair.slice(0, eq))}=${wsp(pair.slice(eq + 1))}`;
      const at = sent.indexOf('=');
      return at < 0 ? null : wsp(sent.slice(0, at));
    };
    const piece = fc.constantFrom('__Host-nft-session', '__Host-nft-session-tx.abc', 'nft-session', 'a', '=', ' ', '\t', ';', 'x=1', 'Path=/', '\u00a0', 'Secure');
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 6 }), async (pieces) => {
        const line = pieces.join('');
        const res = await raw(`/api/cookies/cookie?line=${Buffer.from(line, 'latin1').toString('base64url')}`, { headers: xhr(null) });
        assert.equal(res.status, 200);
        for (const passed of res.headers['set-cookie'] ?? []) {
          const name = readBack(passed);
          assert.ok(name === null || !own(name), `${JSON.stringify(line)} reached the browser and reads back as ${JSON.stringify(name)}`);
        }
      }),
      { numRuns: 150, examples: [[['=', '__Host-nft-session', '=', 'x']], [['\t', '=', '__Host-nft-session-tx.abc', '=', 'x']]] },
    );
  });

  test('property: request headers a browser’s Connection names never go upstream; the proxy’s own X-Forwarded-* always do', async () => {
    info = undefined;
    preset = {};
    const name = fc.constantFrom('accept', 'accept-language', 'user-agent', 'authorization', 'x-forwarded-for', 'x-forwarded-host', 'keep-alive', 'close', 'Accept-Language', ' accept ');
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(name, { minLength: 1, maxLength: 4 }), async (names) => {
        const value = names.join(',');
        const res = await raw('/api/open/echo', { headers: { ...xhr(null), connection: value, accept: 'text/x-a', 'accept-language': 'fr', 'user-agent': 'ua' } });
        const seen = JSON.parse(res.text).headers;
        const listed = value.toLowerCase().split(',').map((n) => n.trim());
        const only = listed.length === 1 && (listed[0] === 'keep-alive' || listed[0] === 'close') ? [] : listed;
        for (const h of ['accept', 'accept-language', 'user-agent']) assert.equal(h in seen, !only.includes(h), `${h} with Connection: ${value}`);
        assert.equal(seen['x-forwarded-host'], new URL(app.origin).host, `x-forwarded-host with Connection: ${value}`);
        assert.equal(seen['x-forwarded-for'], '127.0.0.1');
      }),
      { numRuns: 60 },
    );
  });

  test('Sec-Fetch-Site sent twice with cross-site among them: 403; a transfer coding other than chunked: 400, nothing forwarded (second attacker review)', async () => {
    info = undefined;
    preset = {};
    const twice = await raw('/api/open/echo', { headers: { ...xhr(null), 'sec-fetch-site': ['same-origin', 'cross-site'] } });
    assert.equal(twice.status, 403);
    const seen = up.seen.length;
    const coded = await rawTarget(app.origin, '/api/open/echo', { 'x-csrf': '1', origin: app.origin });
    assert.equal(coded.status, 200, 'the same request without a body passes');
    const answer = (
      await rawExchange(app.origin, `POST /api/open/echo HTTP/1.1\r\nHost: ${new URL(app.origin).host}\r\nX-CSRF: 1\r\nOrigin: ${app.origin}\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n`)
    ).toString('latin1');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /NFT415/);
    assert.equal(up.seen.length, seen + 1, 'only the request without a body reached the API');
  });

  test('the browser going away mid-answer ends the upstream call', async () => {
    info = undefined;
    preset = {};
    const req = httpRequest(`${app.origin}/api/slow/stream`, { headers: xhr(null) });
    req.end();
    const [res] = await within(once(req, 'response'), 5_000, 'the streamed answer’s headers');
    assert.equal(res.statusCode, 200);
    await within(once(res, 'data'), 5_000, 'a first chunk');
    req.destroy();
    const deadline = Date.now() + 5_000;
    while (!slow.cut.includes('/stream') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(slow.cut, ['/stream'], 'the API’s answer was cut short, not streamed on for 10 s');
  });
});
