// AppSync Events with fresh tokens, against cognito-local (tokens live 20 s, real sign-in with
// the real aws-amplify) and a loopback server that follows the AppSync Events WebSocket and HTTP
// protocol (REFERENCE.md) and verifies every token with jose against cognito-local's JWKS. Like
// AppSync, the server ends a connection when the token it was opened with expires.
import '@angular/compiler';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { signIn } from 'aws-amplify/auth';
import { AuthService, provideFreshToken } from 'ngx-fresh-token';
import { AmplifyFreshToken, eventsRealtimeUrl, provideAmplifyFreshToken, withAmplifyTokenSource } from 'ngx-fresh-token/amplify';
import { claimsOf, createAmplifyApp, waitFor } from './helpers/amplify-app.mjs';
import { untilRealTime } from './helpers/wait.mjs';
import { startAppSync } from './helpers/amplify-appsync.mjs';
import { startCognito } from './helpers/amplify-cognito.mjs';

let cognito;
let appsync;
let injector;
let auth;
let amplify;

before(async () => {
  cognito = await startCognito({ accessTokenSeconds: 20 });
  appsync = await startAppSync({ jwksUrl: cognito.jwksUrl, kaIntervalMs: 1_000, connectionTimeoutMs: 5_000 });
  injector = await createAmplifyApp([
    provideFreshToken(withAmplifyTokenSource()),
    provideAmplifyFreshToken({
      Auth: cognito.amplifyAuthConfig(),
      API: { Events: { endpoint: appsync.eventsEndpoint, region: 'local', defaultAuthMode: 'userPool' } },
    }),
  ]);
  auth = injector.get(AuthService);
  amplify = injector.get(AmplifyFreshToken);
  await signIn({ username: cognito.username, password: cognito.password, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
  await auth.refresh();
});

after(async () => {
  injector?.destroy();
  await appsync?.stop();
  await cognito?.stop();
});

test('derives the realtime URL as Amplify does', () => {
  assert.equal(
    eventsRealtimeUrl('https://abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com/event'),
    'wss://abcdefghijklmnopqrstuvwxyz.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime',
  );
  assert.equal(eventsRealtimeUrl('https://events.example.com/event'), 'wss://events.example.com/event/realtime');
  assert.equal(eventsRealtimeUrl('http://127.0.0.1:8080/event'), 'ws://127.0.0.1:8080/event/realtime');
});

test('lambda mode: the handshake and the subscribe message carry the token verbatim; publish and receive', async () => {
  const token = await auth.getValidToken();
  const start = appsync.handshakes.length;
  const received = [];
  const sub = amplify.events('/default/lambda', { authMode: 'lambda' }).subscribe((e) => received.push(e));
  await waitFor(() => appsync.subscriberCount('/default/lambda') === 1, 5_000, 'subscription');
  const handshake = appsync.handshakes[start];
  assert.equal(handshake.authorization, token, 'no "Bearer", no change');
  assert.equal(handshake.headers.host, new URL(appsync.eventsEndpoint).host);
  assert.equal(appsync.subscribeLog.at(-1).authorization, token);
  await amplify.publish('/default/lambda', [{ text: 'hello' }, { n: 2 }]);
  await waitFor(() => received.length === 2, 5_000, 'events');
  assert.deepEqual(received, [{ text: 'hello' }, { n: 2 }]);
  assert.equal(appsync.publishLog.at(-1).token, token);
  sub.unsubscribe();
  await waitFor(() => appsync.openSockets() === 0, 5_000, 'socket closed on unsubscribe');
  assert.equal(appsync.subscriberCount('/default/lambda'), 0);
});

test('a subscription stays alive across two token expiries and a server-side auth close, and keeps delivering', async () => {
  const channel = '/default/long';
  const received = [];
  const errors = [];
  const start = appsync.handshakes.length;
  const sub = amplify.events(channel).subscribe({ next: (e) => received.push(e), error: (e) => errors.push(e) });
  await waitFor(() => appsync.subscriberCount(channel) === 1, 5_000, 'subscription');
  const firstToken = appsync.handshakes[start].authorization;
  let n = 0;
  const deliverOne = async () => {
    const expected = ++n;
    appsync.broadcast(channel, [{ n: expected }]);
    await waitFor(() => received.some((e) => e.n === expected), 5_000, `event ${expected}`);
  };
  await deliverOne();

  // Two renewals, each with a fresh token before the previous one expires.
  for (let i = 1; i <= 2; i++) {
    const prev = appsync.handshakes.filter((h) => h.ok).at(-1);
    await waitFor(() => appsync.handshakes.filter((h) => h.ok).length >= start + 1 + i, 25_000, `renewal ${i}`);
    const next = appsync.handshakes.filter((h) => h.ok).at(-1);
    assert.notEqual(next.authorization, prev.authorization);
    assert.ok(next.exp > prev.exp);
    await waitFor(() => appsync.subscriberCount(channel) === 1 && appsync.openSockets() === 1, 5_000, 'old socket closed');
    await deliverOne();
  }
  // Both earlier connect tokens have expired by now; the subscription is still there. (The first
  // token's exp, set by cognito-local, is the event: nothing announces it earlier.)
  await untilRealTime(claimsOf(firstToken).exp * 1000 + 200);
  assert.ok(Date.now() > claimsOf(firstToken).exp * 1000);
  await deliverOne();

  // The server closes the connection with an auth error: reconnect with a refreshed token.
  const beforeClose = appsync.handshakes.length;
  const refreshesBefore = cognito.stats.refreshes;
  const closedToken = appsync.handshakes.filter((h) => h.ok).at(-1).authorization;
  assert.equal(appsync.closeAllWithAuthError(), 1);
  await waitFor(() => appsync.handshakes.length > beforeClose && appsync.subscriberCount(channel) === 1, 10_000, 'reconnect');
  const reconnected = appsync.handshakes.at(-1);
  assert.equal(reconnected.ok, true);
  assert.notEqual(reconnected.authorization, closedToken, 'reconnected with a refreshed token');
  assert.equal(cognito.stats.refreshes, refreshesBefore + 1);
  await deliverOne();

  assert.deepEqual(errors, []);
  assert.deepEqual(received.map((e) => e.n), [1, 2, 3, 4, 5]);
  assert.ok(appsync.handshakes.slice(start).every((h) => h.ok), 'never connected with a stale token');
  sub.unsubscribe();
  await waitFor(() => appsync.openSockets() === 0, 5_000, 'socket closed on unsubscribe');
});

test('gives up with NFT503 instead of looping when the server keeps refusing fresh tokens', async () => {
  const channel = '/default/refused';
  const start = appsync.handshakes.length;
  const refreshesBefore = cognito.stats.refreshes;
  let error;
  appsync.setRefuseAll(true);
  try {
    const sub = amplify.events(channel).subscribe({ error: (e) => (error = e) });
    await waitFor(() => error !== undefined, 15_000, 'error');
    sub.unsubscribe();
  } finally {
    appsync.setRefuseAll(false);
  }
  assert.equal(error.code, 'NFT503');
  const attempts = appsync.handshakes.slice(start);
  assert.equal(attempts.length, 3, 'the first try and two retries (maxAuthFailures: 2)');
  assert.ok(attempts.every((h) => !h.ok));
  assert.equal(new Set(attempts.map((h) => h.authorization)).size, 3, 'each retry with a refreshed token');
  assert.equal(cognito.stats.refreshes, refreshesBefore + 2);
  await waitFor(() => appsync.openSockets() === 0, 5_000, 'no socket left open');
});
