// The proxy-connect and proxy-refresh handlers of the BUILT `ngx-fresh-token/centrifugo/server`,
// mounted on a real Node HTTP server and called over loopback as Centrifugo calls them (POST with
// the forwarded Authorization header), verifying ES256 JWTs with jose against a JWKS served by
// another loopback server. Checks the exact JSON text Centrifugo reads.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { SignJWT, createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import {
  CENTRIFUGO_PROXY_CODES,
  answerCentrifugoConnect,
  bearerToken,
  centrifugoConnectHandler,
  centrifugoRefreshHandler,
} from 'ngx-fresh-token/centrifugo/server';

let jwksServer;
let proxyServer;
let origin;
let signingKey;
let foreignKey;
const ISSUER = 'https://issuer.test';

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

/** Adapts a Web `Request` → `Response` handler to node:http, as a thin framework layer would. */
function mount(routes) {
  return createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const handler = routes[req.url];
    if (!handler) return res.writeHead(404).end();
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
    const response = await handler(new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) }));
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(await response.text());
  });
}

async function sign(key, { sub = '42', lifetimeSeconds = 60, kid = 'k1' } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(ISSUER)
    .setIssuedAt(now - 120)
    .setExpirationTime(now + lifetimeSeconds)
    .sign(key);
}

async function post(path, token) {
  const headers = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ client: '9a1e…', transport: 'websocket', protocol: 'json', encoding: 'json' }),
  });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

before(async () => {
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  foreignKey = (await generateKeyPair('ES256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  jwksServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  const jwksOrigin = await listen(jwksServer);
  const jwks = createRemoteJWKSet(new URL(`${jwksOrigin}/jwks`));
  const verify = async (token) => (await jwtVerify(token, jwks, { issuer: ISSUER, algorithms: ['ES256'] })).payload;
  // A key set nobody answers for: the token cannot be checked at all.
  const downJwks = createRemoteJWKSet(new URL('http://127.0.0.1:9/jwks'), { timeoutDuration: 500 });
  const verifyDown = async (token) => (await jwtVerify(token, downJwks)).payload;
  proxyServer = mount({
    '/centrifugo/connect': centrifugoConnectHandler({ verify, result: (claims) => ({ info: { name: `user ${claims.sub}` } }) }),
    '/centrifugo/connect-plain': centrifugoConnectHandler({ verify }),
    '/centrifugo/refresh': centrifugoRefreshHandler({ verify }),
    '/centrifugo/connect-down': centrifugoConnectHandler({ verify: verifyDown }),
  });
  origin = await listen(proxyServer);
});

after(async () => {
  await new Promise((resolve) => proxyServer.close(resolve));
  await new Promise((resolve) => jwksServer.close(resolve));
});

test('proxy connect, valid token: {"result":{"user","expire_at"}} exactly, not wrapped in data', async () => {
  const token = await sign(signingKey, { lifetimeSeconds: 600 });
  const exp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).exp;
  const plain = await post('/centrifugo/connect-plain', token);
  assert.equal(plain.status, 200);
  assert.match(plain.type, /^application\/json/);
  assert.equal(plain.text, `{"result":{"user":"42","expire_at":${exp}}}`);
  const withInfo = await post('/centrifugo/connect', token);
  assert.deepEqual(JSON.parse(withInfo.text), { result: { info: { name: 'user 42' }, user: '42', expire_at: exp } });
});

test('proxy connect, invalid token (foreign key, garbage, missing header): {"error":{"code":401,"message":"unauthorized"}}', async () => {
  const forged = await sign(foreignKey);
  for (const token of [forged, 'not-a-jwt', undefined]) {
    const res = await post('/centrifugo/connect', token);
    assert.equal(res.status, 200, 'Centrifugo reads errors from a 200 answer');
    assert.equal(res.text, '{"error":{"code":401,"message":"unauthorized"}}');
    assert.ok(!token || !res.text.includes(token), 'the token is never echoed');
  }
});

// A forged token whose header jose refuses before any key is read (alg none or HS256, an unknown crit header, an
// unknown kid) is a verdict on the token: 401, never the 503 of a key set that could not be loaded, which Centrifugo
// treats as temporary and the client would retry forever (attacker review).
test('proxy connect, forged header (alg none, HS256, an unknown alg, an unknown crit, an unknown kid): 401, not unavailable', async () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = b64({ sub: '42', iss: ISSUER, exp: now + 600, iat: now });
  const forged = [
    `${b64({ alg: 'none', typ: 'JWT' })}.${body}.`,
    `${b64({ alg: 'HS256', kid: 'k1' })}.${body}.${Buffer.from('x'.repeat(32)).toString('base64url')}`,
    `${b64({ alg: 'XYZ', kid: 'k1' })}.${body}.AAAA`,
    `${b64({ alg: 'ES256', kid: 'k1', crit: ['exp-x'], 'exp-x': 1 })}.${body}.AAAA`,
    `${b64({ alg: 'ES256', kid: 'nobody' })}.${body}.AAAA`,
  ];
  for (const token of forged) {
    const res = await post('/centrifugo/connect', token);
    assert.equal(res.status, 200, token.split('.')[0]);
    assert.equal(res.text, '{"error":{"code":401,"message":"unauthorized"}}', token.split('.')[0]);
  }
});

test('proxy connect, expired token: {"disconnect":{"code":4001,"reason":"token expired"}} (client reconnects)', async () => {
  const expired = await sign(signingKey, { lifetimeSeconds: -5 });
  const res = await post('/centrifugo/connect', expired);
  assert.equal(res.status, 200);
  assert.equal(res.text, '{"disconnect":{"code":4001,"reason":"token expired"}}');
  assert.equal(CENTRIFUGO_PROXY_CODES.tokenExpired, 4001);
});

test('proxy refresh: valid → {"result":{"expire_at"}}, expired → {"result":{"expired":true}}, invalid → disconnect 4501', async () => {
  const token = await sign(signingKey, { lifetimeSeconds: 300 });
  const exp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).exp;
  assert.equal((await post('/centrifugo/refresh', token)).text, `{"result":{"expire_at":${exp}}}`);
  assert.equal((await post('/centrifugo/refresh', await sign(signingKey, { lifetimeSeconds: -1 }))).text, '{"result":{"expired":true}}');
  assert.equal((await post('/centrifugo/refresh', await sign(foreignKey))).text, '{"disconnect":{"code":4501,"reason":"invalid token"}}');
  assert.equal((await post('/centrifugo/refresh')).text, '{"disconnect":{"code":4501,"reason":"invalid token"}}');
});

test('proxy connect when the key set is unreachable: HTTP 503, so Centrifugo answers a temporary error', { timeout: 10_000 }, async () => {
  const token = await sign(signingKey);
  const res = await post('/centrifugo/connect-down', token);
  assert.equal(res.status, 503);
  assert.equal(res.text, '{"error":"unavailable"}');
});

test('plain-object form: Node IncomingHttpHeaders in, reply object out; bearerToken parsing', async () => {
  const verify = async (t) => {
    if (t !== 'good') throw Object.assign(new Error('bad'), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    return { sub: 7, exp: Math.floor(Date.now() / 1000) + 60 };
  };
  const ok = await answerCentrifugoConnect({ authorization: 'Bearer good' }, { verify });
  assert.deepEqual(Object.keys(ok.result), ['user', 'expire_at']);
  assert.equal(ok.result.user, '7');
  assert.deepEqual(await answerCentrifugoConnect({ Authorization: ['Bearer bad'] }, { verify }), {
    error: { code: 401, message: 'unauthorized' },
  });
  // Claims with an exp in the past are expired even if verify() let them through (clock tolerance).
  const lenient = async () => ({ sub: '1', exp: Math.floor(Date.now() / 1000) - 1 });
  assert.deepEqual(await answerCentrifugoConnect({ authorization: 'Bearer x' }, { verify: lenient }), {
    disconnect: { code: 4001, reason: 'token expired' },
  });
  assert.equal(bearerToken({ authorization: 'bearer abc' }), 'abc');
  assert.equal(bearerToken(new Headers({ 'x-token': 'Bearer t' }), 'x-token'), 't');
  assert.equal(bearerToken({ authorization: 'Basic abc' }), null);
  assert.equal(bearerToken({}), null);
});

test('the proxy handlers stay out of the browser entry, and the server entry imports nothing', async () => {
  const { readFile } = await import('node:fs/promises');
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const pkgDir = require.resolve('ngx-fresh-token/package.json').replace(/package\.json$/, '');
  const browser = await readFile(`${pkgDir}fesm2022/ngx-fresh-token-centrifugo.mjs`, 'utf8');
  const server = await readFile(`${pkgDir}fesm2022/ngx-fresh-token-centrifugo-server.mjs`, 'utf8');
  assert.ok(!/answerCentrifugo|centrifugoConnectHandler/.test(browser));
  assert.ok(!/^import /m.test(server), 'no dependency: runs on Node, Deno, Bun or an edge runtime');
});
