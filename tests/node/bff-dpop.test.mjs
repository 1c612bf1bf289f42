// DPoP at the BFF (issue #27, RFC 9449): createBff({ dpop }) binds every token it gets to its key and
// proves possession on every proxied call. Real oidc-provider over HTTPS with features.dPoP and a client with
// dpop_bound_access_tokens, and a real resource server that verifies tokens and proofs with jose (cnf.jkt,
// ath, htm/htu, iat, jti replay, nonces: helpers/dpop-api.mjs). The login, the refresh and client
// credentials carry proofs; /session/token and bff.accessToken() refuse bound tokens (NFT420); what an
// attacker copies (a proof, a token) is refused by the API; nonces at the IdP and at the API are retried
// once without spending a refresh token twice; key rotation; WebSockets; 3 instances on Redis.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT, generateKeyPair } from 'jose';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import * as bffModule from 'ngx-fresh-token/bff';
import { ensureRedis, freeLoopbackPort } from '../../scripts/ensure-redis.mjs';
import { API_RESOURCE, BFF_CLIENTS, BFF_SCOPE, TEST_SECRETS, bffOptions, cookieJar, jwtClaims, signIn, startBffIdp, startBffTestbed, within } from './helpers/bff-idp.mjs';
import { spawnBffInstance } from './helpers/bff-instance.mjs';
import { startDpopApi } from './helpers/dpop-api.mjs';

const ORDERS = 'https://orders.example.test';
const IDP_APIS = { [ORDERS]: 'orders:read' };

/** A new P-256 key pair as a private JWK (what an operator keeps in a secret store). */
async function newKey() {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const { d: _d, ...publicJwk } = jwk;
  return { jwk, jkt: await calculateJwkThumbprint(publicJwk) };
}

let api;
let tb;
let keyA;
const apis = () => ({
  orders: { resource: ORDERS, proxy: { path: '/api/orders', target: api.origin, token: 'user', methods: ['GET', 'POST'], websocket: true } },
  reports: { scope: 'api', proxy: { path: '/api/reports', target: api.origin, token: 'client' } },
});
const dpopClient = { clientId: BFF_CLIENTS.dpop.clientId, clientSecret: BFF_CLIENTS.dpop.clientSecret };

before(async () => {
  keyA = await newKey();
  tb = await startBffTestbed(bffModule, {
    bff: { ...dpopClient, resource: API_RESOURCE, minRefreshIntervalMs: 0, dpop: { privateKey: keyA.jwk }, apis: {} },
    idp: { apis: IDP_APIS, accessTokenTtlSeconds: 60 },
  });
  api = await startDpopApi({ issuer: tb.idp.issuer, audience: [ORDERS, API_RESOURCE] });
  // The API's origin is known only now: the BFF under test proxies to it.
  tb.mount(await tb.newBff({ apis: apis() }));
});
after(async () => {
  await tb?.close();
  await api?.close();
});

const call = (jar, path, { method = 'GET', headers = {}, body, origin = tb.app.origin } = {}) =>
  (jar ?? cookieJar()).fetch(`${origin}${path}`, { method, headers: { 'x-csrf': '1', origin, ...headers }, body });
async function signedIn(loginHint = 'alice', app = tb.app) {
  const jar = cookieJar();
  const flow = await signIn(jar, app, { loginHint });
  return { jar, flow };
}
const accepted = () => api.seen.filter((s) => s.status === 200 || s.status === 101);

describe('bff DPoP: createBff({ dpop }) options', () => {
  test('a key that cannot sign DPoP proofs is refused at startup with NFT401 naming the option, never echoing the key', async () => {
    const { jwk } = await newKey();
    const { d: _d, ...publicOnly } = jwk;
    const small = await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
    const rsa1024 = await crypto.subtle.exportKey('jwk', small.privateKey);
    const cases = [
      [{ privateKey: publicOnly }, 'dpop.privateKey'],
      [{ privateKey: { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', d: 'x' } }, 'dpop.privateKey'],
      [{ privateKey: rsa1024 }, 'dpop.privateKey'],
      [{ privateKey: { ...jwk, d: 'AAAA' } }, 'dpop.privateKey'],
      [{}, 'dpop.privateKey'],
      ['key', 'dpop.privateKey'],
      [{ privateKey: jwk, previousKeys: 'nope' }, 'dpop.previousKeys'],
    ];
    for (const [dpop, option] of cases) {
      await assert.rejects(bffModule.createBff(bffOptions(tb.idp, tb.app, { ...dpopClient, dpop })), (err) => {
        assert.equal(err.code, 'NFT401', JSON.stringify(dpop).slice(0, 60));
        assert.match(err.message, new RegExp(option.replace('.', '\\.')));
        assert.ok(!err.message.includes(jwk.d), 'the key is never in the message');
        return true;
      });
    }
  });

  test('a CryptoKey pair works as well as a JWK: same thumbprint at the login', async () => {
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const jkt = await calculateJwkThumbprint(await exportJWK(pair.publicKey));
    const bff = await tb.newBff({ dpop: { privateKey: pair } });
    const login = await bff.handle(new Request(`${tb.app.origin}/auth/login`));
    assert.equal(new URL(login.headers.get('location')).searchParams.get('dpop_jkt'), jkt);
  });
});

describe('bff DPoP: tokens bound to the BFF’s key', () => {
  test('the login binds the code (dpop_jkt), the code grant carries a proof and the IdP issues a DPoP token whose cnf.jkt is the BFF’s key', async () => {
    const { flow } = await signedIn('alice');
    assert.equal(flow.authUrl.searchParams.get('dpop_jkt'), keyA.jkt);
    const grant = tb.idp.tokenRequests.filter((r) => r.grantType === 'authorization_code').at(-1);
    assert.equal(grant.status, 200);
    assert.ok(grant.dpop, 'the code grant carried a DPoP proof');
    assert.equal(grant.tokenType, 'DPoP');
    assert.equal(jwtClaims(tb.idp.issued.accessTokens.at(-1)).cnf.jkt, keyA.jkt);
  });

  test('/session/token refuses with 403 NFT420 before any grant; bff.accessToken() and a render’s getToken refuse too, the render still knows the user', async () => {
    const { jar } = await signedIn('bob');
    const grants = tb.idp.tokenRequests.length;
    for (const path of ['/session/token', '/session/token?api=orders']) {
      const res = await call(jar, path);
      assert.equal(res.status, 403, path);
      const body = await res.json();
      assert.equal(body.code, 'NFT420');
      assert.equal(body.accessToken, undefined);
    }
    assert.equal(tb.idp.tokenRequests.length, grants, 'no grant was made for a token that would be refused');
    const request = new Request(`${tb.app.origin}/`, { headers: { cookie: jar.header(`${tb.app.origin}/`) } });
    const bff = await tb.newBff({ apis: apis() });
    await assert.rejects(bff.accessToken(request), (err) => err.code === 'NFT420' && err.status === 403);
    const { freshToken } = await bff.renderContext(request);
    assert.equal(freshToken.user.sub, 'bob');
    await assert.rejects(freshToken.getToken({ forceRefresh: false }), (err) => err.code === 'NFT420');
  });

  test('a proxied call sends Authorization: DPoP and a proof the API verifies (htm, htu without query, ath, cnf.jkt); the browser never sees a token', async () => {
    const { jar } = await signedIn('carol');
    const res = await call(jar, '/api/orders/items/7?page=2');
    assert.equal(res.status, 200, JSON.stringify(api.seen.at(-1)?.reason));
    const body = await res.json();
    assert.equal(body.sub, 'carol');
    assert.equal(body.jkt, keyA.jkt);
    const seen = api.seen.at(-1);
    assert.match(seen.authorization, /^DPoP /);
    const { header, payload } = api.proofOf(seen);
    assert.equal(header.typ, 'dpop+jwt');
    assert.equal(header.jwk.d, undefined);
    assert.equal(payload.htm, 'GET');
    assert.equal(payload.htu, `${api.origin}/items/7`);
    assert.ok(payload.ath && payload.jti && payload.iat);
    const text = JSON.stringify(body);
    assert.ok(!text.includes(seen.authorization.slice(5)), 'no token in the answer');
  });

  test('a server render calls the API in process through bff.handle() (the README’s way): the proxy proves possession, no token reaches the render', async () => {
    const { jar } = await signedIn('renata');
    const bff = await tb.newBff({ apis: apis() });
    // What server code has in a render: the browser's cookie, nothing else (no Origin: a server-side call).
    const cookie = jar.header(`${tb.app.origin}/`);
    const res = await bff.handle(new Request(`${tb.app.origin}/api/orders/mine`, { headers: { cookie, 'x-csrf': '1' } }));
    assert.ok(res, 'the proxy answers the in-process call');
    assert.equal(res.status, 200, JSON.stringify(api.seen.at(-1)?.reason));
    const body = await res.json();
    assert.equal(body.sub, 'renata');
    assert.equal(body.jkt, keyA.jkt);
    const seen = api.seen.at(-1);
    assert.equal(api.proofOf(seen).payload.htu, `${api.origin}/mine`);
    assert.ok(!JSON.stringify(body).includes(seen.authorization.slice(5)), 'no token in the answer');
  });

  test('client credentials: the BFF’s own token is bound too and sent with a proof', async () => {
    const res = await call(null, '/api/reports/q1');
    assert.equal(res.status, 200, JSON.stringify(api.seen.at(-1)?.reason));
    const grant = tb.idp.tokenRequests.filter((r) => r.grantType === 'client_credentials').at(-1);
    assert.ok(grant.dpop);
    assert.equal(grant.tokenType, 'DPoP');
    assert.equal((await res.json()).jkt, keyA.jkt);
  });

  test('a POST body reaches the API whole, with a proof for POST', async () => {
    const { jar } = await signedIn('dave');
    const body = JSON.stringify({ n: 1, pad: 'x'.repeat(500) });
    const res = await call(jar, '/api/orders/new', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).bodyBytes, body.length);
    assert.equal(api.proofOf(api.seen.at(-1)).payload.htm, 'POST');
  });
});

describe('bff DPoP: what an attacker copies is refused by the API', () => {
  test('a replayed proof, a proof for another URL or method, and the token without its key are all refused', async () => {
    const { jar } = await signedIn('erin');
    assert.equal((await call(jar, '/api/orders/mine')).status, 200);
    const copied = api.seen.at(-1);
    const token = copied.authorization.slice('DPoP '.length);
    const replay = await api.send('/mine', { headers: { authorization: copied.authorization, dpop: copied.dpop } });
    assert.equal(replay.status, 401);
    assert.equal(replay.body.reason, 'jti replayed');
    const otherUrl = await api.send('/all', { headers: { authorization: copied.authorization, dpop: copied.dpop } });
    assert.equal(otherUrl.status, 401);
    assert.equal(otherUrl.body.reason, 'htu mismatch');
    const otherMethod = await api.send('/mine', { method: 'DELETE', headers: { authorization: copied.authorization, dpop: copied.dpop } });
    assert.equal(otherMethod.status, 401);
    assert.equal(otherMethod.body.reason, 'htm mismatch');
    const bearer = await api.send('/mine', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(bearer.status, 401);
    assert.equal(bearer.body.reason, 'bound token sent as bearer');
    // The attacker's own key: a well-formed proof, but not the key the token is bound to.
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const ath = Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))).toString('base64url');
    const forged = await new SignJWT({ htm: 'GET', htu: `${api.origin}/mine`, ath, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
      .setIssuedAt()
      .sign(privateKey);
    const otherKey = await api.send('/mine', { headers: { authorization: copied.authorization, dpop: forged } });
    assert.equal(otherKey.status, 401);
    assert.equal(otherKey.body.reason, 'key is not the token’s (cnf.jkt)');
  });
});

describe('bff DPoP: server nonces', () => {
  test('the API asks for a nonce: retried once with it, remembered for the origin (the next call goes once), and a rotated nonce is picked up', async () => {
    const { jar } = await signedIn('frank');
    api.state.requireNonce = true;
    try {
      const before = api.seen.length;
      const first = await call(jar, '/api/orders/a');
      assert.equal(first.status, 200);
      const firstRound = api.seen.slice(before);
      assert.deepEqual(firstRound.map((s) => s.status), [401, 200], 'one use_dpop_nonce, one retry');
      assert.equal(firstRound[0].reason, 'nonce needed');
      assert.equal(api.proofOf(firstRound[1]).payload.nonce, api.state.nonce);
      const second = api.seen.length;
      assert.equal((await call(jar, '/api/orders/b')).status, 200);
      assert.equal(api.seen.length - second, 1, 'the nonce was remembered');
      api.rotateNonce();
      const third = api.seen.length;
      const body = JSON.stringify({ pad: 'y'.repeat(100) });
      const res = await call(jar, '/api/orders/c', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(res.status, 200);
      assert.deepEqual(api.seen.slice(third).map((s) => [s.status, s.bodyBytes]), [[401, body.length], [200, body.length]], 'the body was sent whole both times');
    } finally {
      api.state.requireNonce = false;
    }
  });

  test('a streamed body (over 64 KB) is never sent twice: the API’s nonce 401 goes back, and the next call carries the nonce', async () => {
    const { jar } = await signedIn('gina');
    api.state.requireNonce = true;
    api.rotateNonce();
    try {
      const big = new Uint8Array(200 * 1024).fill(1);
      const before = api.seen.length;
      const first = await call(jar, '/api/orders/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(big.length) }, body: big });
      assert.equal(first.status, 401);
      assert.equal(first.headers.get('www-authenticate')?.includes('use_dpop_nonce'), true);
      assert.equal(api.seen.length - before, 1, 'sent once');
      const again = await call(jar, '/api/orders/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(big.length) }, body: big });
      assert.equal(again.status, 200);
      assert.equal((await again.json()).bodyBytes, big.length);
    } finally {
      api.state.requireNonce = false;
    }
  });

  test('the IdP asks for a nonce: the login and the refresh are retried once, each refresh token is redeemed once, and the rotated one keeps working', async () => {
    // A BFF that has never talked to the IdP (no nonce cached) meets an IdP that requires one.
    tb.idp.dpop.requireNonce = true;
    try {
      tb.mount(await tb.newBff({ apis: apis() }));
      const from = tb.idp.tokenRequests.length;
      const { jar } = await signedIn('hank');
      const login = tb.idp.tokenRequests.slice(from).filter((r) => r.grantType === 'authorization_code');
      assert.deepEqual(login.map((r) => [r.status, r.error]), [[400, 'use_dpop_nonce'], [200, undefined]]);
      assert.equal((await call(jar, '/api/orders/x')).status, 200);
      // Another fresh BFF (no nonce cached) on the same session: its refresh meets the nonce demand first.
      tb.mount(await tb.newBff({ apis: apis() }));
      for (let round = 0; round < 2; round++) {
        tb.clock.advance(120_000); // the cached token is past its life: the next call refreshes
        const at = tb.idp.tokenRequests.length;
        const res = await call(jar, '/api/orders/x');
        assert.equal(res.status, 200, `round ${round}`);
        const refreshes = tb.idp.tokenRequests.slice(at).filter((r) => r.grantType === 'refresh_token').map((r) => [r.status, r.error]);
        // The first round dances; the second has the nonce (remembered for the IdP's origin) and goes straight through.
        assert.deepEqual(refreshes, round === 0 ? [[400, 'use_dpop_nonce'], [200, undefined]] : [[200, undefined]], `round ${round}`);
      }
      assert.equal(tb.idp.counts.invalid_grant, 0, 'no refresh token was spent twice (rotation with reuse detection would have said so)');
    } finally {
      tb.idp.dpop.requireNonce = false;
      tb.mount(await tb.newBff({ apis: apis() }));
    }
  });
});

describe('bff DPoP: key rotation', () => {
  test('a BFF with a new key keeps using tokens bound to a previous key with that key, and new tokens are bound to the new key; a removed key means one new token', async () => {
    const { jar } = await signedIn('ivan');
    assert.equal((await (await call(jar, '/api/orders/k')).json()).jkt, keyA.jkt);
    const keyB = await newKey();
    const rotated = await tb.newBff({ apis: apis(), dpop: { privateKey: keyB.jwk, previousKeys: [keyA.jwk] } });
    tb.mount(rotated);
    try {
      const grants = tb.idp.counts.refresh_token;
      const kept = await call(jar, '/api/orders/k');
      assert.equal(kept.status, 200);
      assert.equal((await kept.json()).jkt, keyA.jkt, 'the cached token, with its own key');
      assert.equal(tb.idp.counts.refresh_token, grants, 'no new token needed');
      tb.clock.advance(120_000);
      const renewed = await call(jar, '/api/orders/k');
      assert.equal((await renewed.json()).jkt, keyB.jkt, 'the next token is bound to the new key');
      // Key A removed while a session still holds an A-bound token: one new token, bound to the current key.
      const { jar: jar2 } = await signedIn('judy');
      const keyC = await newKey();
      tb.mount(await tb.newBff({ apis: apis(), dpop: { privateKey: keyC.jwk } }));
      const before = tb.idp.counts.refresh_token;
      const res = await call(jar2, '/api/orders/k');
      assert.equal(res.status, 200);
      assert.equal((await res.json()).jkt, keyC.jkt);
      assert.equal(tb.idp.counts.refresh_token - before, 1);
    } finally {
      tb.mount(await tb.newBff({ apis: apis() }));
    }
  });
});

describe('bff DPoP: WebSockets', () => {
  function open(path, cookie) {
    const socket = new WebSocket(`${tb.app.origin.replace(/^http/, 'ws')}${path}`, { headers: { cookie, origin: tb.app.origin } });
    // A greeting may arrive in the same packet as the handshake's answer: listen before 'open'.
    const messages = [];
    socket.on('message', (data) => messages.push(String(data)));
    socket.firstMessage = () => within(new Promise((resolve) => (messages.length ? resolve(messages[0]) : socket.once('message', (d) => resolve(String(d))))), 3_000, 'the first message');
    return within(
      new Promise((resolve) => {
        socket.once('open', () => resolve({ socket }));
        socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
        socket.once('error', (error) => resolve({ error }));
      }),
      5_000,
      `the handshake of ${path}`,
    );
  }

  test('the handshake carries a proof for GET and the handshake’s http URI; with a nonce required, one retry', async () => {
    const { jar } = await signedIn('kim');
    const cookie = jar.header(`${tb.app.origin}/`);
    const { socket, status } = await open('/api/orders/live?room=1', cookie);
    assert.ok(socket, `refused: ${status} ${api.seen.at(-1)?.reason}`);
    const hello = await socket.firstMessage();
    assert.equal(JSON.parse(hello).jkt, keyA.jkt, 'the API’s greeting, sent before the browser’s side was up, is not lost');
    const seen = api.seen.at(-1);
    assert.equal(seen.websocket, true);
    assert.equal(api.proofOf(seen).payload.htu, `${api.origin}/live`);
    socket.close();
    api.state.requireNonce = true;
    api.rotateNonce();
    try {
      const before = api.seen.length;
      const second = await open('/api/orders/live', cookie);
      assert.ok(second.socket, `refused: ${second.status}`);
      assert.deepEqual(api.seen.slice(before).map((s) => s.status), [401, 101]);
      second.socket.close();
    } finally {
      api.state.requireNonce = false;
    }
  });
});

/** A hostile API: records every request and answers with `state.handler`. */
async function startHostileApi() {
  const seen = [];
  const state = { handler: (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}') };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers });
      state.handler(req, res);
    });
  });
  server.maxHeaderSize = 64 * 1024;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { origin: `http://127.0.0.1:${server.address().port}`, seen, state, close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))) };
}

describe('bff DPoP: attacker review (mixed deploys, foreign keys, hostile APIs, bad keys)', () => {
  let evil;
  const withEvil = () => ({ ...apis(), evil: { resource: ORDERS, proxy: { path: '/api/evil', target: evil.origin, token: 'user' } } });
  before(async () => {
    evil = await startHostileApi();
  });
  after(async () => {
    tb.mount(await tb.newBff({ apis: apis() }));
    await evil?.close();
  });

  test('an instance without dpop on the same store never hands out a bound token, and never redeems it without a proof (503, the session kept)', async () => {
    const { jar } = await signedIn('mixed');
    assert.equal((await call(jar, '/api/orders/k')).status, 200);
    tb.mount(await tb.newBff({ dpop: undefined, apis: {}, handOutTokens: true }));
    try {
      const handed = await call(jar, '/session/token');
      assert.equal(handed.status, 403);
      const body = await handed.json();
      assert.equal(body.code, 'NFT420');
      assert.equal(body.accessToken, undefined, 'the bound token stays on the server');
      tb.clock.advance(120_000);
      const grants = tb.idp.counts.refresh_token;
      const later = await call(jar, '/session/token');
      assert.equal(later.status, 503);
      assert.equal((await later.json()).code, 'NFT420');
      assert.ok(Number(later.headers.get('retry-after')) > 0);
      assert.equal(tb.idp.counts.refresh_token, grants, 'no redemption without a proof (the IdP would answer invalid_grant)');
    } finally {
      tb.mount(await tb.newBff({ apis: apis() }));
    }
    const back = await call(jar, '/api/orders/k');
    assert.equal(back.status, 200, 'the session survived the instance without the key');
  });

  test('a WebSocket whose session holds a token bound to a removed key gets one new token (and a warning, once)', async () => {
    const { jar } = await signedIn('wsrot');
    const cookie = jar.header(`${tb.app.origin}/`);
    assert.equal((await call(jar, '/api/orders/k')).status, 200);
    const keyC = await newKey();
    const warnings = [];
    tb.mount(await tb.newBff({ apis: apis(), dpop: { privateKey: keyC.jwk }, logger: { warn: (m) => warnings.push(m), error: () => {} } }));
    try {
      const grants = tb.idp.counts.refresh_token;
      const socket = new WebSocket(`${tb.app.origin.replace(/^http/, 'ws')}/api/orders/live`, { headers: { cookie, origin: tb.app.origin } });
      const first = await within(new Promise((resolve, reject) => (socket.once('message', (d) => resolve(String(d))), socket.once('unexpected-response', (_q, res) => reject(new Error(`refused ${res.statusCode}`))))), 5_000, 'the greeting');
      assert.equal(JSON.parse(first).jkt, keyC.jkt);
      socket.close();
      assert.equal(tb.idp.counts.refresh_token - grants, 1);
      assert.equal((await (await call(jar, '/api/orders/k')).json()).jkt, keyC.jkt);
      assert.equal(warnings.filter((w) => /does not hold/.test(w)).length, 1);
      assert.ok(!warnings.some((w) => /ey[A-Za-z0-9_-]{20,}\./.test(w)), 'no token in a warning');
    } finally {
      tb.mount(await tb.newBff({ apis: apis() }));
    }
  });

  test('an API that always asks for a new nonce costs two requests per call and no redemption', async () => {
    const { jar } = await signedIn('noncer');
    assert.equal((await call(jar, '/api/orders/k')).status, 200, 'the session holds its token for this resource');
    let n = 0;
    evil.state.handler = (_req, res) => res.writeHead(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': `n${n++}` }).end('{}');
    tb.mount(await tb.newBff({ apis: withEvil(), minRefreshIntervalMs: 0 }));
    const before = evil.seen.length;
    const grants = tb.idp.counts.refresh_token;
    for (let i = 0; i < 3; i++) {
      const res = await call(jar, '/api/evil/x');
      assert.equal(res.status, 401);
      await res.text();
    }
    assert.equal(evil.seen.length - before, 6);
    assert.equal(tb.idp.counts.refresh_token - grants, 0, 'a nonce challenge is not a reason for a new token');
  });

  test('a nonce that is huge or not RFC 9449 syntax is never remembered for later proofs', async () => {
    const { jar } = await signedIn('bignonce');
    tb.mount(await tb.newBff({ apis: withEvil() }));
    for (const bad of ['N'.repeat(12_000), 'a"b', 'a\\b', 'a b']) {
      evil.state.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'dpop-nonce': bad }).end('{}');
      await (await call(jar, '/api/evil/x')).text();
      evil.state.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      await (await call(jar, '/api/evil/y')).text();
      const proof = evil.seen.at(-1).headers.dpop;
      assert.equal(decodeJwt(proof).nonce, undefined, JSON.stringify(bad.slice(0, 10)));
      assert.ok(proof.length < 2_000);
    }
  });

  test('a nonce from the IdP that is huge or not RFC 9449 syntax is never put into the next proof to the IdP either (attacker review)', async () => {
    const { jar } = await signedIn('idpnonce');
    for (const bad of ['N'.repeat(12_000), 'a"b', 'a b']) {
      // The IdP redeems the refresh (commit) and its answer carries the hostile nonce.
      const heal = tb.idp.inject('token', { commit: true, rewrite: (body) => body, headers: { 'DPoP-Nonce': bad } });
      tb.clock.advance(120_000);
      const first = await call(jar, '/api/orders/x');
      assert.equal(first.status, 200, await first.text());
      heal();
      tb.clock.advance(120_000);
      const at = tb.idp.tokenRequests.length;
      assert.equal((await call(jar, '/api/orders/y')).status, 200);
      const proof = tb.idp.tokenRequests.slice(at).find((r) => r.grantType === 'refresh_token')?.dpop;
      assert.ok(proof, 'the next refresh carried a proof');
      // (It may carry the IdP's own well-formed nonce, remembered from an earlier answer: never the hostile one.)
      assert.notEqual(decodeJwt(proof).nonce, bad, JSON.stringify(bad.slice(0, 10)));
      assert.ok(proof.length < 2_000, `a proof of ${proof.length} characters`);
    }
  });

  test('property: whatever DPoP-Nonce an API sends, the next proof carries exactly it when RFC 9449 allows it (1*NQCHAR, ≤ 1 KB), else none', async () => {
    const { jar } = await signedIn('fcnonce');
    tb.mount(await tb.newBff({ apis: withEvil() }));
    const nqchar = fc.constantFrom(...[...Array(0x7f - 0x21).keys()].map((i) => String.fromCharCode(0x21 + i)));
    const headerSafe = fc.string({ unit: fc.constantFrom(...' \t!"#$%&\'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~'.split('')), minLength: 1, maxLength: 40 });
    const nonce = fc.oneof(
      fc.string({ unit: nqchar, minLength: 1, maxLength: 64 }),
      headerSafe,
      fc.string({ unit: nqchar, minLength: 1000, maxLength: 1100 }),
    ).filter((v) => v.trim() === v && v.length > 0);
    await fc.assert(
      fc.asyncProperty(nonce, async (value) => {
        evil.state.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'dpop-nonce': value }).end('{}');
        await (await call(jar, '/api/evil/x')).text();
        evil.state.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        await (await call(jar, '/api/evil/y')).text();
        const sent = decodeJwt(evil.seen.at(-1).headers.dpop).nonce;
        const allowed = value.length <= 1024 && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(value);
        if (allowed) assert.equal(sent, value);
        else assert.notEqual(sent, value);
      }),
      { numRuns: 60 },
    );
  });

  test('key checks on what WebCrypto holds: a padded RSA-1024 JWK, an RSA-1024 pair and a mismatched pair are NFT401; an extractable pair is accepted', async () => {
    const rsa = await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
    const rsaJwk = await crypto.subtle.exportKey('jwk', rsa.privateKey);
    const n = Buffer.from(rsaJwk.n, 'base64url');
    const padded = { ...rsaJwk, n: Buffer.concat([Buffer.alloc(256 - n.length), n]).toString('base64url') };
    const a = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const b = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    for (const [what, key] of [['padded RSA-1024 JWK', padded], ['RSA-1024 pair', rsa], ['mismatched pair', { privateKey: a.privateKey, publicKey: b.publicKey }]]) {
      await assert.rejects(tb.newBff({ apis: apis(), dpop: { privateKey: key } }), (err) => err.code === 'NFT401' && /dpop\.privateKey/.test(err.message) && !err.message.includes(rsaJwk.d), what);
    }
    const extractable = await tb.newBff({ apis: apis(), dpop: { privateKey: a } });
    assert.ok(extractable);
  });
});

describe('bff DPoP: 3 instances on Redis', () => {
  let redis;
  let idp;
  let api3;
  const instances = [];
  let shared;
  before(async () => {
    redis = await ensureRedis();
    shared = await newKey();
    const ports = [await freeLoopbackPort()];
    const origins = () => ports.map((p) => `http://localhost:${p}`);
    idp = await startBffIdp({ appOrigin: origins()[0], accessTokenTtlSeconds: 3, apis: IDP_APIS });
    api3 = await startDpopApi({ issuer: idp.issuer, audience: [ORDERS] });
    ports.push(await freeLoopbackPort(), await freeLoopbackPort());
    for (let i = 0; i < 3; i++) {
      instances.push(
        await spawnBffInstance({
          name: `dpop-${i + 1}`,
          port: ports[i],
          issuer: idp.issuer,
          ...dpopClient,
          redirectUri: `${origins()[0]}/auth/callback`,
          allowedOrigins: origins(),
          scope: BFF_SCOPE,
          resource: API_RESOURCE,
          secrets: [TEST_SECRETS[0]],
          store: 'redis',
          redisUrl: redis.url,
          client: i % 2 ? 'ioredis' : 'node-redis',
          prefix: 'nft-dpop:',
          minRefreshIntervalMs: 0,
          dpop: { privateKey: shared.jwk },
          apis: { orders: { resource: ORDERS, proxy: { path: '/api/orders', target: api3.origin, token: 'user' } } },
          reportRequests: false,
        }),
      );
    }
  });
  after(async () => {
    await Promise.all(instances.map((b) => b.stop()));
    await api3?.close();
    await idp?.close();
    await redis?.stop();
  });

  test('one session over three processes: every call verified by the API with the shared key, each expiry redeemed once across the instances, no proof reused', async () => {
    const jar = cookieJar();
    await signIn(jar, { origin: instances[0].origin });
    const via = (i) => jar.fetch(`${instances[i % 3].origin}/api/orders/echo`, { headers: { 'x-csrf': '1', origin: instances[i % 3].origin } });
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => via(i + round)));
      for (const r of results) assert.equal(r.status, 200, JSON.stringify(api3.seen.filter((s) => s.status !== 200).map((s) => s.reason)));
      if (round < 2) await new Promise((r) => setTimeout(r, 3_200)); // the 3 s token expires
    }
    const ok = api3.seen.filter((s) => s.status === 200);
    assert.equal(ok.length, 18);
    const jtis = ok.map((s) => api3.proofOf(s).payload.jti);
    assert.equal(new Set(jtis).size, jtis.length, 'every proof fresh');
    assert.ok(ok.every((s) => jwtClaims(s.authorization.slice(5)).cnf.jkt === shared.jkt));
    assert.equal(idp.counts.invalid_grant, 0);
    const tokens = new Set(ok.map((s) => s.authorization));
    assert.ok(tokens.size >= 3, 'a new token after each expiry');
    // The login's own token is used only if round 0 began within its first half-life (1.5 s).
    const loginTokenUsed = tokens.has(`DPoP ${idp.issued.accessTokens[0]}`);
    assert.equal(idp.counts.refresh_token, tokens.size - (loginTokenUsed ? 1 : 0), `one redemption per token after the login’s: ${JSON.stringify(idp.tokenRequests.map((t) => [t.grantType, t.status, t.error]))}`);
  });
});

