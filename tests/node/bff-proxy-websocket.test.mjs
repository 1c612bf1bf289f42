// WebSockets through the BFF's proxy (issue #26), where Duende BFF's users are stuck (a WebSocket cannot
// send X-CSRF): `bff.upgrade()` checks the session cookie, an exact Origin and Sec-Fetch-Site, attaches
// the token to the upstream handshake, relays messages both ways, and closes with 4401 when the token the
// connection was opened with expires (the client reconnects for a fresh one). Real oidc-provider over HTTPS,
// a real `ws` server as the API, `ws` clients as the browser (with its cookie and Origin).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import * as bffModule from 'ngx-fresh-token/bff';
import { API_RESOURCE, cookieJar, jwtClaims, signIn, startBffTestbed, within } from './helpers/bff-idp.mjs';
import { waitFor } from './helpers/wait.mjs';

const LIVE = 'https://live.example.test';
const PLAIN = 'https://plain.example.test';
let tb;
let api; // { origin, handshakes: [{ path, authorization }], close }
let slowApi; // a WebSocket API whose handshake takes 300 ms (a real API over a network takes time too)

async function startWsApi({ handshakeDelayMs = 0 } = {}) {
  const server = createServer((_req, res) => res.writeHead(426).end());
  // The API prefers subprotocol v2 when offered (the browser must be told what the API chose).
  const wss = new WebSocketServer({
    server,
    handleProtocols: (protocols) => (protocols.has('v2') ? 'v2' : ([...protocols][0] ?? false)),
    verifyClient: (_info, done) => setTimeout(() => done(true), handshakeDelayMs),
  });
  const handshakes = [];
  wss.on('connection', (socket, req) => {
    handshakes.push({ path: req.url, authorization: req.headers.authorization, cookie: req.headers.cookie, protocol: socket.protocol });
    socket.on('message', (data, isBinary) => socket.send(isBinary ? data : `echo:${data}`, { binary: isBinary }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    handshakes,
    openCount: () => wss.clients.size,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

before(async () => {
  api = await startWsApi();
  slowApi = await startWsApi({ handshakeDelayMs: 300 });
  tb = await startBffTestbed(bffModule, {
    bff: {
      resource: API_RESOURCE,
      minRefreshIntervalMs: 0,
      apis: {
        live: { resource: LIVE, proxy: { path: '/api/live', target: api.origin, token: 'user', websocket: true, maxMessageBytes: 64 * 1024 } },
        plain: { resource: PLAIN, proxy: { path: '/api/plain', target: api.origin, token: 'user' } },
        open: { proxy: { path: '/api/open', target: api.origin, token: 'none', websocket: true } },
        slow: { resource: LIVE, proxy: { path: '/api/slow', target: slowApi.origin, token: 'user', websocket: true } },
      },
    },
    idp: { apis: { [LIVE]: 'live:read', [PLAIN]: 'plain:read' } },
  });
});
after(async () => {
  await tb?.close();
  await api?.close();
  await slowApi?.close();
});

/** Opens a WebSocket to the app the way a browser does (its cookie, its Origin); resolves with the socket or the refusal. */
function open(path, { cookie, origin = tb.app.origin, headers = {}, protocols = ['chat.v1'] } = {}) {
  const url = `${tb.app.origin.replace(/^http/, 'ws')}${path}`;
  const socket = new WebSocket(url, protocols, { headers: { ...(cookie ? { cookie } : {}), ...(origin ? { origin } : {}), ...headers } });
  return within(new Promise((resolve) => {
    socket.once('open', () => resolve({ socket }));
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    socket.once('error', (err) => resolve({ error: err }));
  }), 5_000, `the handshake of ${path}`).catch((err) => {
    socket.terminate();
    throw err;
  });
}
async function signedInCookie(loginHint = 'alice') {
  const jar = cookieJar();
  await signIn(jar, tb.app, { loginHint });
  return jar.header(`${tb.app.origin}/`);
}

describe('bff proxy: WebSockets (bff.upgrade)', () => {
  test('with the session cookie and the app’s Origin: the API’s handshake carries the user’s token for that API, messages flow both ways, no cookie goes upstream', async () => {
    const cookie = await signedInCookie();
    const { socket, status, body } = await open('/api/live/rooms/1?x=1', { cookie });
    assert.ok(socket, `refused: ${status} ${body}`);
    const handshake = api.handshakes.at(-1);
    assert.equal(handshake.path, '/rooms/1?x=1');
    assert.equal(jwtClaims(handshake.authorization.slice(7)).aud, LIVE);
    assert.equal(handshake.cookie, undefined, 'no cookie upstream');
    assert.equal(handshake.protocol, 'chat.v1', 'the subprotocol is passed on');
    socket.send('hello');
    const [text] = await within(once(socket, 'message'), 3_000, 'the echo');
    assert.equal(String(text), 'echo:hello');
    socket.send(new Uint8Array([1, 2, 3]));
    const [bytes, isBinary] = await within(once(socket, 'message'), 3_000, 'the binary echo');
    assert.equal(isBinary, true);
    assert.deepEqual([...bytes], [1, 2, 3]);
    socket.close(1000);
  });

  test('refused without a session (401), without an Origin, with a foreign Origin or a cross-site fetch (403); nothing reaches the API', async () => {
    const cookie = await signedInCookie('bob');
    const before = api.handshakes.length;
    const anonymous = await open('/api/live/x');
    assert.equal(anonymous.status, 401);
    assert.equal(JSON.parse(anonymous.body).code, 'NFT419');
    assert.equal((await open('/api/live/x', { cookie, origin: null })).status, 403);
    assert.equal((await open('/api/live/x', { cookie, origin: 'https://evil.example' })).status, 403);
    assert.equal((await open('/api/live/x', { cookie, headers: { 'sec-fetch-site': 'cross-site' } })).status, 403);
    // Sent twice, node:http joins the values: any cross-site among them counts (second attacker review of #26's speed-up).
    assert.equal((await open('/api/live/x', { cookie, headers: { 'sec-fetch-site': ['same-origin', 'cross-site'] } })).status, 403);
    assert.equal(api.handshakes.length, before);
  });

  test('an API without websocket: true is not upgraded', async () => {
    const cookie = await signedInCookie();
    const result = await open('/api/plain/x', { cookie });
    assert.ok(!result.socket);
  });

  test('when the connection’s token expires, both sides are closed with 4401 and a reconnect carries a fresh token', async () => {
    const cookie = await signedInCookie('carol');
    const { socket } = await open('/api/live/ticker', { cookie });
    assert.ok(socket);
    const first = api.handshakes.at(-1).authorization;
    const [code, reason] = await within(once(socket, 'close'), 10_000, 'the close at token expiry (5 s tokens)');
    assert.equal(code, bffModule.WEBSOCKET_TOKEN_EXPIRED_CLOSE_CODE);
    assert.equal(String(reason), 'token expired');
    tb.clock.advance(10_000); // the BFF's clock catches up with the expired token
    const again = await open('/api/live/ticker', { cookie });
    assert.ok(again.socket);
    assert.notEqual(api.handshakes.at(-1).authorization, first, 'the reconnect got a new token');
    again.socket.close(1000);
  });
});

describe('bff proxy: WebSockets, hostile cases (attacker review)', () => {
  /** A raw handshake (what no browser sends): resolves with the status line the BFF answered. */
  function rawHandshake(path, headers) {
    const url = new URL(tb.app.origin);
    return within(
      new Promise((resolve, reject) => {
        const socket = connect(Number(url.port), '127.0.0.1', () => {
          const lines = [`GET ${path} HTTP/1.1`, `Host: ${url.host}`, 'Connection: Upgrade', 'Upgrade: websocket', `Origin: ${tb.app.origin}`, 'Sec-WebSocket-Version: 13', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
          socket.write(`${lines.join('\r\n')}\r\n\r\n`);
        });
        let text = '';
        socket.on('data', (d) => {
          text += d;
          if (text.includes('\r\n')) {
            resolve(text.split('\r\n')[0]);
            socket.destroy();
          }
        });
        socket.on('error', reject);
        socket.on('close', () => resolve(text.split('\r\n')[0] || '(closed)'));
      }),
      5_000,
      'the handshake answer',
    );
  }

  test('a duplicated or invalid subprotocol gets 400 and the BFF lives on', async () => {
    for (const protocol of ['chat, chat', 'a b', 'x y, z']) {
      const line = await rawHandshake('/api/open/x', { 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': protocol });
      assert.match(line, / 400 /, protocol);
    }
    const { socket } = await open('/api/open/x');
    assert.ok(socket, 'still serving');
    socket.close(1000);
  });

  test('a handshake ws would refuse (bad key, bad version) opens nothing upstream, and nothing is left open', async () => {
    const before = api.handshakes.length;
    for (const headers of [{ 'Sec-WebSocket-Key': 'not-a-key' }, { 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '99' }]) {
      const line = await rawHandshake('/api/open/x', headers);
      assert.match(line, / 400 /);
    }
    assert.equal(api.handshakes.length, before, 'no upstream WebSocket was opened');
    await waitFor(() => api.openCount() === 0, 3_000, 'no upstream WebSocket left open');
  });

  test('path forms that could leave the API’s path are refused on the handshake too', async () => {
    const cookie = await signedInCookie();
    for (const path of ['/api/live/%252e%252e/admin', '/api/live/..;/admin', '/api/live//x']) {
      const result = await open(path, { cookie });
      assert.equal(result.status, 400, path);
    }
  });

  test('the browser is told the subprotocol the API chose', async () => {
    const { socket } = await open('/api/open/x', { protocols: ['v1', 'v2'] });
    assert.equal(socket.protocol, 'v2');
    socket.close(1000);
  });

  test('signing out closes the session’s WebSockets with 4401', async () => {
    const jar = cookieJar();
    await signIn(jar, tb.app, { loginHint: 'dora' });
    const cookie = jar.header(`${tb.app.origin}/`);
    const { socket } = await open('/api/live/x', { cookie });
    assert.ok(socket);
    const closed = within(once(socket, 'close'), 5_000, 'the close after sign-out');
    await jar.fetch(`${tb.app.origin}/auth/logout`, { method: 'POST', headers: { 'x-csrf': '1', origin: tb.app.origin } });
    const [code, reason] = await closed;
    assert.equal(code, 4401);
    assert.equal(String(reason), 'session ended');
  });

  // Node's server takes its own 'error' listener off the socket before 'upgrade'. Mounted as the README shows (no
  // listener of the app's own), a client that resets the connection while the BFF checks or answers its handshake
  // must not crash the process with an unhandled 'error' (found by the attacker review: no session needed).
  test('a handshake whose client resets the connection (refused at once, or while the upstream answers) crashes nothing', async () => {
    const server = createServer((_req, res) => res.end());
    server.on('upgrade', (req, socket, head) =>
      tb.bff.upgrade(req, socket, head, { clientAddress: req.socket.remoteAddress }).then((handled) => handled || socket.destroy(), () => socket.destroy()),
    );
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    const uncaught = [];
    const onUncaught = (err) => uncaught.push(err);
    process.prependListener('uncaughtException', onUncaught);
    try {
      const host = new URL(tb.app.origin).host;
      const hello = (path, origin) =>
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nOrigin: ${origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
      for (let i = 0; i < 5; i++) {
        for (const [path, origin, afterMs] of [
          ['/api/live/x', 'https://evil.example', 0], // refused at once: the answer meets a reset socket
          ['/api/open/x', tb.app.origin, 20], // a `none` API: reset while the upstream handshake runs
        ]) {
          const client = connect(port, '127.0.0.1');
          client.on('error', () => undefined);
          await once(client, 'connect');
          client.write(hello(path, origin));
          await new Promise((r) => setTimeout(r, afterMs));
          client.resetAndDestroy();
        }
      }
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(uncaught.map((e) => e.code ?? e.message), [], 'no unhandled socket error');
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('one session\'s concurrent handshakes never exceed 16 open WebSockets, however slow the upstream handshake (slots are taken before it)', async () => {
    const cookie = await signedInCookie('flo');
    const results = await Promise.all(Array.from({ length: 30 }, () => open('/api/slow/x', { cookie })));
    const opened = results.filter((r) => r.socket);
    assert.equal(opened.length, 16);
    assert.ok(results.filter((r) => !r.socket).every((r) => r.status === 429), JSON.stringify(results.filter((r) => !r.socket).map((r) => r.status ?? String(r.error))));
    for (const r of opened) r.socket.close(1000);
    await Promise.all(opened.map((r) => (r.socket.readyState === WebSocket.CLOSED ? null : once(r.socket, 'close'))));
    // The slots are free again once they are closed.
    await waitFor(async () => {
      const again = await open('/api/slow/x', { cookie });
      again.socket?.close(1000);
      return !!again.socket;
    }, 5_000, 'a new WebSocket after the others closed');
  });

  test('a message over maxMessageBytes closes the connection (1009), in either direction', async () => {
    const cookie = await signedInCookie('ed');
    const { socket } = await open('/api/live/x', { cookie });
    const closed = within(once(socket, 'close'), 5_000, 'the close');
    socket.send(new Uint8Array(100 * 1024));
    const [code] = await closed;
    assert.equal(code, 1009);
  });
});
