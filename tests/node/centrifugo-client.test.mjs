// The real `centrifuge` client (5.8) with the getToken functions of the BUILT
// `ngx-fresh-token/centrifugo`, backed by a real AuthService whose token source hands out
// short-lived HS256 JWTs, against a loopback server speaking Centrifugo's client protocol v2
// (tests/node/helpers/centrifugo-server.mjs). Real time, short TTLs, every wait bounded.
import { createRootInjector } from './helpers/injector.mjs';
import { startCentrifugoServer } from './helpers/centrifugo-server.mjs';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, afterEach, before, test } from 'node:test';
import { quietPeriod, whenEvents } from './helpers/wait.mjs';
import { Centrifuge } from 'centrifuge';
import { SignJWT, decodeJwt } from 'jose';
import { AuthService, DEFAULT_REFRESH_RETRY, provideFreshToken, withRefreshRetry, withTokenSource } from 'ngx-fresh-token';
import { centrifugoGetToken, centrifugoHeaderMode, centrifugoSubscriptionGetToken } from 'ngx-fresh-token/centrifugo';
import { centrifugoConnectHandler, centrifugoRefreshHandler } from 'ngx-fresh-token/centrifugo/server';
import { jwtVerify } from 'jose';

const SECRET = 'centrifugo-test-secret';
const key = new TextEncoder().encode(SECRET);
let jti = 0;

function signJwt(claims, lifetimeSeconds) {
  const nowSeconds = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...claims, jti: `t${++jti}` })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + lifetimeSeconds)
    .sign(key);
}

/** A token source whose next answers the test controls; records every call (and emits `call`). */
function controlledSource({ lifetimeSeconds = 3 } = {}) {
  const events = new EventEmitter();
  const calls = []; // { at, outcome }
  calls.push = (...entries) => {
    const length = Array.prototype.push.apply(calls, entries);
    events.emit('call');
    return length;
  };
  const source = {
    calls,
    events,
    issued: [],
    mode: 'ok', // 'ok' | 'down' | 'signed-out' | 'rejected'
    lifetimeSeconds,
    async getToken() {
      const at = Date.now();
      if (source.mode === 'down') {
        source.calls.push({ at, outcome: 'down' });
        throw Object.assign(new Error('Service Unavailable'), { status: 503 });
      }
      if (source.mode === 'rejected') {
        source.calls.push({ at, outcome: 'rejected' });
        throw Object.assign(new Error('Bad Request'), { status: 400, error: { error: 'invalid_grant' } });
      }
      if (source.mode === 'signed-out') {
        source.calls.push({ at, outcome: 'signed-out' });
        return null;
      }
      const accessToken = await signJwt({ sub: '42' }, source.lifetimeSeconds);
      source.calls.push({ at, outcome: 'ok' });
      source.issued.push(accessToken);
      return { accessToken };
    },
  };
  return source;
}

function setup(source) {
  const injector = createRootInjector([
    // Short backoff: the cool-down after a failed refresh follows it, and the tests wait for recovery.
    provideFreshToken(withTokenSource(source), withRefreshRetry({ maxAttempts: 1, attemptTimeoutMs: 2_000, baseDelayMs: 200, maxDelayMs: 1_000 })),
  ]);
  cleanups.push(() => injector.destroy());
  return { auth: injector.get(AuthService) };
}

/**
 * Resolves when `predicate()` holds, checking it now and on each event that could change it: a
 * command reaching the loopback server, and the state changes, publications, unsubscriptions or
 * token-source calls of `emitters` (clients, subscriptions, `source.events`, another server's
 * `events`); fails after `timeoutMs`.
 */
function until(predicate, timeoutMs, what, ...emitters) {
  const sources = [[server.events, 'command']];
  for (const emitter of emitters) for (const name of ['state', 'publication', 'unsubscribed', 'command', 'call']) sources.push([emitter, name]);
  return whenEvents(predicate, sources, timeoutMs, what);
}

function record(client) {
  const events = [];
  for (const type of ['connecting', 'connected', 'disconnected', 'error']) {
    client.on(type, (ctx) => events.push({ type, at: Date.now(), ctx }));
  }
  return events;
}

let server;
const cleanups = [];

before(async () => {
  server = await startCentrifugoServer({ secret: SECRET, tokenChannels: ['private:orders'], expiredCloseDelayMs: 1_000 });
});

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
  server.log.length = 0;
});

after(() => server.close());

function newClient(options) {
  const client = new Centrifuge(server.url, { websocket: WebSocket, minReconnectDelay: 200, maxReconnectDelay: 1_000, timeout: 3_000, ...options });
  cleanups.push(() => client.disconnect());
  return client;
}

test('connect, then refresh at ttl delivers a new token in-band without reconnecting', { timeout: 20_000 }, async () => {
  const source = controlledSource({ lifetimeSeconds: 3 });
  const { auth } = setup(source);
  const client = newClient({ getToken: centrifugoGetToken(auth) });
  const events = record(client);

  client.connect();
  await until(() => client.state === 'connected', 5_000, 'connected', client);
  const [connect] = server.commands('connect');
  assert.equal(connect.body.token, source.issued[0]);

  // Two refreshes at the connection's ttl (about 3 s each), each with a token the server never saw.
  await until(() => server.commands('refresh').length >= 2, 12_000, 'two in-band refreshes');
  const refreshes = server.commands('refresh').map((c) => c.body.token);
  const seen = [connect.body.token, ...refreshes];
  assert.equal(new Set(seen).size, seen.length, 'every refresh carries a new token');
  // Fresh when it was sent (3 s tokens: by the time this runs, on a loaded machine, an early one may have expired).
  for (const { body, at } of server.commands('refresh')) assert.ok(decodeJwt(body.token).exp * 1000 > at, 'refresh token is fresh when sent');
  assert.equal(refreshes.at(-1), auth.state().token, 'the client uses the token AuthService holds');

  assert.equal(server.commands('connect').length, 1, 'no reconnect');
  assert.equal(events.filter((e) => e.type === 'connecting').length, 1, 'only the initial connecting');
  assert.equal(events.filter((e) => e.type === 'error').length, 0);
  assert.equal(client.state, 'connected');
});

test('signed out: getToken throws UnauthorizedError, the client disconnects and does not retry', { timeout: 20_000 }, async () => {
  const source = controlledSource({ lifetimeSeconds: 2 });
  const { auth } = setup(source);
  const client = newClient({ getToken: centrifugoGetToken(auth) });
  const events = record(client);

  client.connect();
  await until(() => client.state === 'connected', 5_000, 'connected', client);
  await auth.signOut();
  source.mode = 'signed-out';

  // At ttl the client asks for a token: signed out → unauthorized, no reconnect.
  await until(() => client.state === 'disconnected', 8_000, 'disconnected', client);
  const disconnected = events.find((e) => e.type === 'disconnected');
  assert.deepEqual(disconnected.ctx, { code: 1, reason: 'unauthorized' });
  const callsAtDisconnect = source.calls.length;
  // No reconnect: it would show as a `connecting` state, a connect command or a source call, and no
  // event announces that none comes; wait well past minReconnectDelay and the refresh retry delay.
  await quietPeriod(2_500);
  assert.equal(client.state, 'disconnected');
  assert.equal(server.commands('connect').length, 1, 'never connected again');
  assert.equal(server.commands('refresh').length, 0, 'no refresh with an empty or stale token');
  assert.equal(source.calls.length, callsAtDisconnect, 'the token source is not asked again');
  assert.equal(events.filter((e) => e.type === 'connecting').length, 1);
});

test('session ended by the token source (HTTP 400) at connect: unauthorized, no retry, nothing sent', { timeout: 15_000 }, async () => {
  const source = controlledSource();
  source.mode = 'rejected';
  const { auth } = setup(source);
  const client = newClient({ getToken: centrifugoGetToken(auth) });
  const events = record(client);

  client.connect();
  await until(() => client.state === 'disconnected', 5_000, 'disconnected', client);
  assert.deepEqual(events.find((e) => e.type === 'disconnected').ctx, { code: 1, reason: 'unauthorized' });
  assert.equal(auth.state().status, 'signed-out');
  assert.equal(auth.state().error?.code, 'NFT202');
  // No retry: it would be a second source call or a command; no event announces that none comes,
  // so wait past the client's reconnect delays (200 ms, at most 1 s) and the core's first backoff.
  await quietPeriod(1_500);
  assert.equal(source.calls.length, 1, 'asked once');
  assert.equal(server.log.length, 0, 'no command reached the server');
});

test('token source down: the client retries with backoff, then connects once it is back', { timeout: 30_000 }, async () => {
  const source = controlledSource({ lifetimeSeconds: 30 });
  source.mode = 'down';
  const { auth } = setup(source);
  const client = newClient({ getToken: centrifugoGetToken(auth) });
  const events = record(client);

  client.connect();
  await until(() => source.calls.length >= 4, 8_000, 'four failed attempts', source.events);
  assert.equal(client.state, 'connecting', 'still trying, not given up');
  const tokenErrors = events.filter((e) => e.type === 'error' && e.ctx.type === 'connectToken');
  assert.ok(tokenErrors.length >= 3, 'each failure is reported as a connectToken error');
  assert.ok(tokenErrors.every((e) => /NFT201/.test(e.ctx.error.message)), 'a transient FreshTokenError, no token in it');
  const gaps = source.calls.slice(1).map((c, i) => c.at - source.calls[i].at);
  assert.ok(gaps.every((gap) => gap >= 180), `backoff of at least minReconnectDelay between attempts: ${gaps}`);
  assert.equal(server.log.length, 0, 'nothing sent without a token');

  source.mode = 'ok';
  // After each failed cycle the core holds off the source for a growing cool-down (no call before it
  // passes, whoever asks): after the last of these failures up to base * 2^(failures - 1), then the
  // client's next attempt comes within maxReconnectDelay (1 s).
  const coolDownMaxMs = Math.min(DEFAULT_REFRESH_RETRY.maxDelayMs, DEFAULT_REFRESH_RETRY.baseDelayMs * 2 ** (source.calls.length - 1));
  await until(() => client.state === 'connected', coolDownMaxMs + 3_000, 'connected after recovery', client);
  assert.equal(server.commands('connect').length, 1);
  assert.equal(server.commands('connect')[0].body.token, auth.state().token);
  assert.ok(!events.some((e) => e.type === 'disconnected'), 'never gave up');
});

test('disconnect 3014 (state invalidated): the client gets a new token and reconnects with it', { timeout: 15_000 }, async () => {
  const source = controlledSource({ lifetimeSeconds: 60 });
  const { auth } = setup(source);
  const client = newClient({ getToken: centrifugoGetToken(auth) });

  client.connect();
  await until(() => client.state === 'connected', 5_000, 'connected', client);
  server.disconnect(3014, 'state invalidated');
  await until(() => server.commands('connect').length === 2 && client.state === 'connected', 8_000, 'reconnected', client);
  const [first, second] = server.commands('connect').map((c) => c.body.token);
  assert.notEqual(second, first, 'the token the client already had is not handed back');
  assert.equal(second, auth.state().token);
  assert.equal(source.calls.length, 2, 'exactly one refresh for the reconnect');
});

test('connect with an expired token: error 109 "token expired", then getToken supplies a fresh one', { timeout: 15_000 }, async () => {
  const source = controlledSource({ lifetimeSeconds: 60 });
  const { auth } = setup(source);
  const stale = await signJwt({ sub: '42' }, -10); // e.g. a token rendered into the page long ago
  const client = newClient({ token: stale, getToken: centrifugoGetToken(auth) });
  const events = record(client);

  client.connect();
  await until(() => client.state === 'connected', 8_000, 'connected', client);
  const tokens = server.commands('connect').map((c) => c.body.token);
  assert.deepEqual(tokens, [stale, auth.state().token]);
  const connectError = events.find((e) => e.type === 'error' && e.ctx.type === 'connect');
  assert.deepEqual(connectError.ctx.error, { code: 109, message: 'token expired', temporary: false });
  assert.equal(source.calls.length, 1);
});

test('subscription token: refreshed in-band at the subscription ttl, subscription stays up', { timeout: 20_000 }, async () => {
  const source = controlledSource({ lifetimeSeconds: 60 });
  const { auth } = setup(source);
  const fetched = [];
  const fetcher = async ({ channel, accessToken }) => {
    fetched.push({ channel, accessToken });
    return signJwt({ sub: decodeJwt(accessToken).sub, channel }, 3);
  };
  const client = newClient({ getToken: centrifugoGetToken(auth) });
  const sub = client.newSubscription('private:orders', { getToken: centrifugoSubscriptionGetToken(fetcher, auth) });
  const publications = [];
  sub.on('publication', (ctx) => publications.push(ctx.data));
  const unsubscribed = [];
  sub.on('unsubscribed', (ctx) => unsubscribed.push(ctx));

  sub.subscribe();
  client.connect();
  await until(() => sub.state === 'subscribed', 5_000, 'subscribed', sub);
  await until(() => server.commands('sub_refresh').length >= 1, 8_000, 'a subscription refresh');
  const subscribeToken = server.commands('subscribe')[0].body.token;
  const refreshToken = server.commands('sub_refresh')[0].body.token;
  assert.ok(subscribeToken && refreshToken && refreshToken !== subscribeToken, 'a new subscription token');
  assert.equal(decodeJwt(refreshToken).channel, 'private:orders');
  assert.ok(fetched.every((f) => f.channel === 'private:orders' && f.accessToken === auth.state().token), 'fetcher gets the channel and a fresh access token');

  server.publish('private:orders', { n: 1 });
  await until(() => publications.length === 1, 3_000, 'a publication after the refresh', sub);
  assert.equal(sub.state, 'subscribed');
  assert.equal(server.commands('subscribe').length, 1, 'no resubscribe');
  assert.equal(server.commands('connect').length, 1, 'no reconnect');
  assert.deepEqual(unsubscribed, []);
});

test('subscription refused (403) stops the subscription; a 401 is retried once with a new access token', { timeout: 15_000 }, async () => {
  const source = controlledSource({ lifetimeSeconds: 60 });
  const { auth } = setup(source);
  const client = newClient({ getToken: centrifugoGetToken(auth) });
  client.connect();
  await until(() => client.state === 'connected', 5_000, 'connected', client);

  let calls401 = 0;
  const seenAccess = [];
  const retrying = client.newSubscription('private:orders', {
    getToken: centrifugoSubscriptionGetToken(async ({ channel, accessToken }) => {
      seenAccess.push(accessToken);
      if (calls401++ === 0) throw Object.assign(new Error('Unauthorized'), { status: 401 });
      return signJwt({ sub: '42', channel }, 30);
    }, auth),
  });
  retrying.subscribe();
  await until(() => retrying.state === 'subscribed', 5_000, 'subscribed after one 401', retrying);
  assert.equal(seenAccess.length, 2);
  assert.notEqual(seenAccess[1], seenAccess[0], 'retried with a new access token');
  client.removeSubscription(retrying);

  const refused = client.newSubscription('private:other', {
    getToken: centrifugoSubscriptionGetToken(async () => {
      throw Object.assign(new Error('Forbidden'), { status: 403 });
    }, auth),
  });
  const unsubscribed = [];
  refused.on('unsubscribed', (ctx) => unsubscribed.push(ctx));
  refused.subscribe();
  await until(() => refused.state === 'unsubscribed' && unsubscribed.length === 1, 5_000, 'unsubscribed', refused);
  assert.deepEqual(unsubscribed[0], { channel: 'private:other', code: 1, reason: 'unauthorized' });
  assert.equal(client.state, 'connected', 'the connection is not affected');
});

test('header mode: proxy-connect gets a fresh Bearer header on every (re)connect; expiry reconnects with a new one', { timeout: 25_000 }, async () => {
  const verify = async (token) => (await jwtVerify(token, key, { algorithms: ['HS256'] })).payload;
  const proxyServer = await startCentrifugoServer({
    secret: 'unused-in-proxy-mode',
    proxyConnect: centrifugoConnectHandler({ verify }),
    proxyRefresh: centrifugoRefreshHandler({ verify }),
  });
  cleanups.push(() => proxyServer.close());
  const source = controlledSource({ lifetimeSeconds: 3 });
  const { auth } = setup(source);
  const headers = centrifugoHeaderMode({}, auth);
  const client = headers.attach(new Centrifuge(proxyServer.url, { websocket: WebSocket, getData: headers.getData, minReconnectDelay: 200, maxReconnectDelay: 1_000 }));
  cleanups.push(() => client.disconnect());
  const events = record(client);

  client.connect();
  await until(() => client.state === 'connected', 5_000, 'connected', client);
  const firstConnect = proxyServer.commands('connect')[0].body;
  assert.equal(firstConnect.token, undefined, 'no connection token in header mode');
  assert.equal(firstConnect.headers.Authorization, `Bearer ${source.issued[0]}`);
  assert.deepEqual(proxyServer.commands('proxy_connect')[0].body, {
    result: { user: '42', expire_at: decodeJwt(source.issued[0]).exp },
  });

  // At expire_at the refresh proxy sees the old header: expired → 3005 → reconnect with a new header.
  await until(() => proxyServer.commands('connect').length === 2 && client.state === 'connected', 12_000, 'reconnected after expiry', client, proxyServer.events);
  assert.deepEqual(proxyServer.commands('proxy_refresh')[0].body, { result: { expired: true } });
  assert.ok(events.some((e) => e.type === 'connecting' && e.ctx.code === 3005), 'disconnected with 3005 connection expired');
  const second = proxyServer.commands('connect')[1].body.headers.Authorization;
  assert.notEqual(second, firstConnect.headers.Authorization);
  assert.equal(second, `Bearer ${auth.state().token}`);
  assert.equal(proxyServer.commands('proxy_connect')[1].body.result.user, '42');
});

test('header mode: signed out stops the client with unauthorized', { timeout: 10_000 }, async () => {
  const source = controlledSource();
  source.mode = 'signed-out';
  const { auth } = setup(source);
  const headers = centrifugoHeaderMode({}, auth);
  const client = headers.attach(new Centrifuge(server.url, { websocket: WebSocket, getData: headers.getData, minReconnectDelay: 200 }));
  cleanups.push(() => client.disconnect());
  const events = record(client);
  client.connect();
  await until(() => client.state === 'disconnected', 5_000, 'disconnected', client);
  assert.deepEqual(events.find((e) => e.type === 'disconnected').ctx, { code: 1, reason: 'unauthorized' });
  // No retry: it would be a second source call or a command; no event announces that none comes,
  // so wait past the client's reconnect delay (200 ms, backing off).
  await quietPeriod(800);
  assert.equal(source.calls.length, 1);
  assert.equal(server.log.length, 0);
});
