// ngx-fresh-token/amplify against real components on 127.0.0.1: cognito-local (tokens live 20 s,
// real USER_PASSWORD_AUTH sign-in with the real aws-amplify, refresh through the
// GetTokensFromRefreshToken proxy) and a loopback AppSync GraphQL server that verifies every
// token with jose against cognito-local's JWKS and answers 401 to expired or revoked ones.
import '@angular/compiler';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Amplify } from 'aws-amplify';
import { generateClient } from 'aws-amplify/api';
import { fetchAuthSession, signIn } from 'aws-amplify/auth';
import { PLATFORM_ID } from '@angular/core';
import { AuthService, provideFreshToken } from 'ngx-fresh-token';
import {
  AmplifyFreshToken,
  createAmplifyTokenSource,
  isGraphqlUnauthorized,
  provideAmplifyFreshToken,
  withAmplifyTokenSource,
} from 'ngx-fresh-token/amplify';
import { createAmplifyApp, claimsOf } from './helpers/amplify-app.mjs';
import { untilRealTime } from './helpers/wait.mjs';
import { createRootInjector } from './helpers/injector.mjs';
import { startAppSync } from './helpers/amplify-appsync.mjs';
import { startCognito } from './helpers/amplify-cognito.mjs';

const TOKEN_SECONDS = 20;
const QUERY = 'query Me { me { sub jti } }';
let cognito;
let appsync;
let injector;
let auth;
let amplify;
let client;
const events = [];

/**
 * Waits until `token` has `leftMs` left before its `exp`: a point in time that cognito-local's
 * token sets and no event announces (the service's status changes only at the buffer and at expiry).
 */
const untilLeft = (token, leftMs) => untilRealTime(claimsOf(token).exp * 1000 - leftMs);

before(async () => {
  cognito = await startCognito({ accessTokenSeconds: TOKEN_SECONDS });
  appsync = await startAppSync({ jwksUrl: cognito.jwksUrl });
  injector = await createAmplifyApp([
    provideFreshToken(withAmplifyTokenSource({ token: 'access' })),
    provideAmplifyFreshToken({
      Auth: cognito.amplifyAuthConfig(),
      API: { GraphQL: { endpoint: appsync.graphqlEndpoint, region: 'local', defaultAuthMode: 'userPool' } },
    }),
  ]);
  auth = injector.get(AuthService);
  amplify = injector.get(AmplifyFreshToken);
  auth.events$.subscribe((e) => events.push(e.type));
  client = generateClient();
});

after(async () => {
  injector?.destroy();
  await appsync?.stop();
  await cognito?.stop();
});

test('signs in for real and takes the access token (and the ID token) from fetchAuthSession', async () => {
  assert.equal(await auth.getValidToken(), null, 'signed out before sign-in');
  const result = await signIn({ username: cognito.username, password: cognito.password, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
  assert.equal(result.isSignedIn, true);
  const token = await auth.refresh();
  const session = await fetchAuthSession();
  assert.equal(token, session.tokens.accessToken.toString());
  assert.equal(claimsOf(token).token_use, 'access');
  assert.equal(auth.idToken, session.tokens.idToken.toString());
  // 20 s left is inside the default 30 s buffer: the status says so, the token is still handed out.
  assert.equal(auth.state().status, 'expiring');
  const idGrant = await createAmplifyTokenSource({ token: 'id' }).getToken({ forceRefresh: false });
  assert.equal(claimsOf(idGrant.accessToken).token_use, 'id');
  assert.equal(idGrant.expiresAt, claimsOf(idGrant.accessToken).exp * 1000);
});

test('on the server platform (SSR) the Amplify source answers signed out although this process is signed in to Cognito', async () => {
  const processToken = (await fetchAuthSession()).tokens.accessToken.toString();
  const server = createRootInjector([{ provide: PLATFORM_ID, useValue: 'server' }, provideFreshToken(withAmplifyTokenSource())]);
  try {
    const requestAuth = server.get(AuthService);
    assert.equal(await requestAuth.getValidToken(), null, "one user's process-wide session must not reach every SSR request");
    assert.equal(await requestAuth.refresh(), null);
    await requestAuth.signOut();
    assert.equal((await fetchAuthSession()).tokens?.accessToken.toString(), processToken, 'signing out a request does not sign the process out of Amplify');
  } finally {
    server.destroy();
  }
  const optedIn = createRootInjector([{ provide: PLATFORM_ID, useValue: 'server' }, provideFreshToken(withAmplifyTokenSource({ shareSessionOnServer: true }))]);
  try {
    assert.equal(await optedIn.get(AuthService).getValidToken(), (await fetchAuthSession()).tokens.accessToken.toString(), 'shareSessionOnServer: true hands it out');
  } finally {
    optedIn.destroy();
  }
});

test('the source forces a refresh when the token in Amplify\'s cache is inside the buffer', async () => {
  const cached = (await fetchAuthSession()).tokens.accessToken.toString();
  await untilLeft(cached, 9_000); // inside the buffer (half the 20 s lifetime), outside Amplify's own 5 s
  const before = cognito.stats.refreshes;
  const grant = await createAmplifyTokenSource().getToken({ forceRefresh: false });
  assert.equal(cognito.stats.refreshes, before + 1);
  assert.notEqual(claimsOf(grant.accessToken).jti, claimsOf(cached).jti);
  assert.ok(claimsOf(grant.accessToken).exp > claimsOf(cached).exp);
});

test('a query sent 10 s before expiry goes out with a refreshed token and the server sees no 401', async () => {
  const old = await auth.refresh();
  await untilLeft(old, 9_800);
  const before = cognito.stats.refreshes;
  const logStart = appsync.graphqlLog.length;
  const result = await client.graphql({ query: QUERY });
  assert.ok(result.data.me.sub);
  const sent = appsync.graphqlLog.slice(logStart);
  assert.deepEqual(sent.map((r) => r.status), [200]);
  assert.notEqual(sent[0].jti, claimsOf(old).jti, 'the token went out refreshed');
  assert.ok(sent[0].exp > claimsOf(old).exp);
  assert.equal(cognito.stats.refreshes, before + 1);
});

test('20 concurrent queries at expiry share one refresh', async () => {
  const current = await auth.getValidToken();
  await untilLeft(current, 9_500);
  const before = cognito.stats.refreshes;
  const logStart = appsync.graphqlLog.length;
  const results = await Promise.all(Array.from({ length: 20 }, () => amplify.graphql((headers) => client.graphql({ query: QUERY }, headers))));
  assert.equal(results.length, 20);
  const sent = appsync.graphqlLog.slice(logStart);
  assert.equal(sent.length, 20);
  assert.ok(sent.every((r) => r.status === 200), 'no 401');
  assert.equal(new Set(sent.map((r) => r.jti)).size, 1, 'all with the same new token');
  assert.notEqual(sent[0].jti, claimsOf(current).jti);
  assert.equal(cognito.stats.refreshes, before + 1, 'exactly one refresh');
});

test('a token revoked server-side gets exactly one retry, with a refreshed token, which succeeds', async () => {
  const current = await auth.getValidToken();
  appsync.revoke(claimsOf(current).jti);
  const before = cognito.stats.refreshes;
  const logStart = appsync.graphqlLog.length;
  const result = await amplify.graphql((headers) => client.graphql({ query: QUERY }, headers));
  assert.ok(result.data.me.sub);
  const sent = appsync.graphqlLog.slice(logStart);
  assert.deepEqual(sent.map((r) => r.status), [401, 200]);
  assert.equal(sent[0].jti, claimsOf(current).jti);
  assert.notEqual(sent[1].jti, claimsOf(current).jti);
  assert.equal(cognito.stats.refreshes, before + 1);
});

test('lambda mode: the wrapper hands the token verbatim as the per-call Authorization Amplify requires', async () => {
  const token = await auth.getValidToken();
  const logStart = appsync.graphqlLog.length;
  const result = await amplify.graphql((headers) => client.graphql({ query: QUERY, authMode: 'lambda' }, headers));
  assert.ok(result.data.me.sub);
  assert.deepEqual(appsync.graphqlLog.slice(logStart).map((r) => [r.status, r.token]), [[200, token]]);
});

test('a 401 without the wrapper is recognised by its status code', async () => {
  const current = await auth.getValidToken();
  appsync.revoke(claimsOf(current).jti);
  const err = await client.graphql({ query: QUERY }, { Authorization: current }).then(
    () => assert.fail('expected a 401'),
    (e) => e,
  );
  assert.equal(isGraphqlUnauthorized(err), true);
  assert.equal(isGraphqlUnauthorized({ errors: [{ message: 'Unauthorized' }] }), false, 'the message alone does not count');
});

test('a refresh that fails permanently ends the session after one attempt, without a loop', async () => {
  const current = await auth.getValidToken();
  appsync.revoke(claimsOf(current).jti);
  cognito.stats.failRefreshes = true;
  const before = cognito.stats.refreshes;
  const logStart = appsync.graphqlLog.length;
  const err = await amplify.graphql((headers) => client.graphql({ query: QUERY }, headers)).then(
    () => assert.fail('expected the 401'),
    (e) => e,
  );
  assert.equal(isGraphqlUnauthorized(err), true, 'the caller gets the original 401');
  assert.deepEqual(appsync.graphqlLog.slice(logStart).map((r) => r.status), [401]);
  assert.equal(cognito.stats.refreshes, before + 1, 'one refresh attempt');
  assert.equal(auth.state().status, 'signed-out');
  assert.equal(auth.state().error?.code, 'NFT202');
  assert.ok(events.includes('session-expired'));
  assert.equal(await auth.getValidToken(), null);
  assert.equal(Amplify.getConfig().API.GraphQL.endpoint, appsync.graphqlEndpoint);
});
