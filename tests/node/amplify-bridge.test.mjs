// The Amplify TokenProvider bridge: AuthService (any source — here a session-endpoint-like source
// issuing non-Cognito RS256 tokens) becomes Amplify's token provider, so Amplify's own
// fetchAuthSession, GraphQL and AppSync Events in `oidc` mode use its fresh token, while Cognito
// sign-in (against a real cognito-local) keeps working. The loopback AppSync server verifies the
// non-Cognito tokens with jose against that issuer's JWKS.
import '@angular/compiler';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { generateClient } from 'aws-amplify/api';
import { events } from 'aws-amplify/data';
import { Hub } from 'aws-amplify/utils';
import { fetchAuthSession, signIn, signOut } from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import { AuthService, provideFreshToken, withTokenSource } from 'ngx-fresh-token';
import { AmplifyFreshToken, provideAmplifyFreshToken, withAmplifyTokenSource } from 'ngx-fresh-token/amplify';
import { claimsOf, createAmplifyApp, waitFor } from './helpers/amplify-app.mjs';
import { startAppSync } from './helpers/amplify-appsync.mjs';
import { startCognito } from './helpers/amplify-cognito.mjs';

// Amplify always opens wss:// (it rewrites http:// to wss://); the loopback server speaks plain
// ws://, so the WebSocket Amplify creates is pointed at ws:// — nothing else changes.
const NativeWebSocket = globalThis.WebSocket;
globalThis.WebSocket = class LoopbackWebSocket extends NativeWebSocket {
  constructor(url, protocols) {
    super(String(url).replace(/^wss:\/\/127\.0\.0\.1:/, 'ws://127.0.0.1:'), protocols);
  }
};

const ISSUER = 'https://sessions.example.test';
let cognito;
let appsync;
let injector;
let auth;
let amplify;
let issued = 0;
let privateKey;

async function issueToken(seconds = 60) {
  issued++;
  return new SignJWT({ scope: 'events' })
    .setProtectedHeader({ alg: 'RS256', kid: 'sessions-1' })
    .setIssuer(ISSUER)
    .setSubject('user-1')
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
    .sign(privateKey);
}

before(async () => {
  const keys = await generateKeyPair('RS256');
  privateKey = keys.privateKey;
  const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: 'sessions-1', alg: 'RS256', use: 'sig' };
  cognito = await startCognito({ accessTokenSeconds: 20 });
  appsync = await startAppSync({ jwksUrl: cognito.jwksUrl, extraJwks: { keys: [publicJwk] } });
  injector = await createAmplifyApp([
    provideFreshToken(withTokenSource({ getToken: async () => ({ accessToken: await issueToken() }) })),
    provideAmplifyFreshToken(
      {
        Auth: cognito.amplifyAuthConfig(),
        API: {
          Events: { endpoint: appsync.eventsEndpoint, region: 'local', defaultAuthMode: 'oidc' },
          GraphQL: { endpoint: appsync.graphqlEndpoint, region: 'local', defaultAuthMode: 'oidc' },
        },
      },
      { tokenProvider: true },
    ),
  ]);
  auth = injector.get(AuthService);
  amplify = injector.get(AmplifyFreshToken);
});

after(async () => {
  injector?.destroy();
  await events.closeAll().catch(() => undefined);
  await appsync?.stop();
  await cognito?.stop();
  globalThis.WebSocket = NativeWebSocket;
});

test("Amplify's fetchAuthSession answers with AuthService's token; forceRefresh forces one refresh", async () => {
  const token = await auth.getValidToken();
  assert.equal(claimsOf(token).iss, ISSUER);
  const session = await fetchAuthSession();
  assert.equal(session.tokens.accessToken.toString(), token);
  const before = issued;
  const forced = await fetchAuthSession({ forceRefresh: true });
  assert.equal(issued, before + 1);
  assert.notEqual(forced.tokens.accessToken.toString(), token);
  assert.equal(forced.tokens.accessToken.toString(), await auth.getValidToken());
});

test("oidc mode with a non-Cognito token: Amplify's own events.connect handshake carries it through the bridge", async () => {
  const token = await auth.getValidToken();
  const start = appsync.handshakes.length;
  const channel = await events.connect('/default/oidc', { authMode: 'oidc' });
  const received = [];
  const sub = channel.subscribe({ next: (m) => received.push(m.event), error: () => undefined });
  await waitFor(() => appsync.subscriberCount('/default/oidc') === 1, 10_000, 'subscription');
  const handshake = appsync.handshakes[start];
  assert.equal(handshake.ok, true);
  assert.equal(handshake.authorization, token, 'the handshake took the token from AuthService');
  assert.equal(appsync.subscribeLog.at(-1).authorization, token);
  appsync.broadcast('/default/oidc', [{ via: 'amplify' }]);
  await waitFor(() => received.length === 1, 5_000, 'event');
  assert.deepEqual(received, [{ via: 'amplify' }]);
  sub.unsubscribe();
  await channel.close();
});

test('oidc mode: the library Events connection and Amplify GraphQL use the non-Cognito token too', async () => {
  const token = await auth.getValidToken();
  const received = [];
  const sub = amplify.events('/default/oidc2').subscribe((e) => received.push(e));
  await waitFor(() => appsync.subscriberCount('/default/oidc2') === 1, 5_000, 'subscription');
  assert.equal(appsync.handshakes.at(-1).authorization, token);
  await amplify.publish('/default/oidc2', [{ ok: 1 }]);
  await waitFor(() => received.length === 1, 5_000, 'event');
  sub.unsubscribe();
  const logStart = appsync.graphqlLog.length;
  const result = await generateClient().graphql({ query: 'query Me { me { sub } }' });
  assert.equal(result.data.me.sub, 'user-1');
  assert.equal(appsync.graphqlLog[logStart].token, token);
});

test('Cognito sign-in keeps working with the bridge installed (setAuthConfig pitfall handled)', async () => {
  const result = await signIn({ username: cognito.username, password: cognito.password, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
  assert.equal(result.isSignedIn, true);
  const cognitoTokens = await cognitoUserPoolsTokenProvider.getTokens();
  assert.equal(claimsOf(cognitoTokens.accessToken.toString()).token_use, 'access');
  // Amplify APIs still get AuthService's token.
  assert.equal((await fetchAuthSession()).tokens.accessToken.toString(), await auth.getValidToken());
});

test('bridge plus withAmplifyTokenSource: the source reads Cognito directly, no loop through the bridge', async () => {
  const second = await createAmplifyApp([
    provideFreshToken(withAmplifyTokenSource()),
    provideAmplifyFreshToken({ Auth: cognito.amplifyAuthConfig() }, { tokenProvider: true }),
  ]);
  try {
    const cognitoAuth = second.get(AuthService);
    const token = await Promise.race([
      cognitoAuth.getValidToken(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('loop: no answer in 5 s')), 5_000)),
    ]);
    assert.equal(claimsOf(token).token_use, 'access');
    assert.equal((await cognitoUserPoolsTokenProvider.getTokens()).accessToken.toString(), token);
    assert.equal((await fetchAuthSession()).tokens.accessToken.toString(), token, 'Amplify sees the same token through the bridge');
  } finally {
    second.destroy();
  }
});

/** Signs in to Cognito with the real Amplify `signIn()` (USER_PASSWORD_AUTH, the flow cognito-local has). */
function cognitoSignIn() {
  return signIn({ username: cognito.username, password: cognito.password, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
}

test('bridge plus withAmplifyTokenSource, starting signed OUT: signIn() completes, the service loads the session by itself and follows Amplify signOut()', async () => {
  await signOut(); // no Cognito session left by the tests above: start as a fresh visitor does
  const app = await createAmplifyApp([
    provideFreshToken(withAmplifyTokenSource()),
    provideAmplifyFreshToken({ Auth: cognito.amplifyAuthConfig() }, { tokenProvider: true }),
  ]);
  try {
    const cognitoAuth = app.get(AuthService);
    assert.equal(await cognitoAuth.getValidToken(), null, 'signed out, and the service remembers it');
    assert.equal((await fetchAuthSession()).tokens, undefined);
    const signedIn = [];
    const stopHub = Hub.listen('auth', ({ payload }) => payload.event === 'signedIn' && signedIn.push(payload.data));
    let result;
    try {
      result = await cognitoSignIn();
    } finally {
      stopHub();
    }
    assert.equal(result.isSignedIn, true);
    assert.equal(signedIn.length, 1, "Amplify's signedIn event fired");
    assert.ok(signedIn[0].userId && signedIn[0].username, 'with the signed-in user');
    // No auth.refresh() here: Amplify's `signedIn` event makes the service load the new session.
    const token = await firstValueFrom(cognitoAuth.token$.pipe(filter((t) => t !== null), timeout(5_000)));
    assert.equal(claimsOf(token).token_use, 'access');
    assert.equal(token, (await cognitoUserPoolsTokenProvider.getTokens()).accessToken.toString());
    assert.equal(await cognitoAuth.getValidToken(), token);
    assert.equal((await fetchAuthSession()).tokens.accessToken.toString(), token, 'Amplify sees the same token through the bridge');
    // Amplify's own signOut() ends the service's session too: the old token is not handed out any more.
    await signOut();
    assert.equal(await firstValueFrom(cognitoAuth.token$.pipe(filter((t) => t === null), timeout(5_000))), null);
    assert.equal(await cognitoAuth.getValidToken(), null);
    assert.equal((await fetchAuthSession()).tokens, undefined);
  } finally {
    app.destroy();
  }
});

test('bridge plus a non-Cognito source that is signed out: signIn() completes and Amplify keeps its own Cognito session', async () => {
  await signOut();
  let sourceCalls = 0;
  const app = await createAmplifyApp([
    provideFreshToken(withTokenSource({ getToken: async () => (sourceCalls++, null) })), // e.g. a session endpoint without a session
    provideAmplifyFreshToken({ Auth: cognito.amplifyAuthConfig() }, { tokenProvider: true }),
  ]);
  try {
    const sessionAuth = app.get(AuthService);
    assert.equal(await sessionAuth.getValidToken(), null);
    const result = await cognitoSignIn();
    assert.equal(result.isSignedIn, true);
    const cognitoToken = (await cognitoUserPoolsTokenProvider.getTokens()).accessToken.toString();
    assert.equal(claimsOf(cognitoToken).token_use, 'access');
    assert.equal((await fetchAuthSession()).tokens.accessToken.toString(), cognitoToken, 'no AuthService token: Amplify uses its own session');
    assert.equal(await sessionAuth.getValidToken(), null, 'the source still decides what AuthService holds');
    assert.equal(sourceCalls, 1, "Cognito's sign-in does not make the service ask a non-Amplify source again");
  } finally {
    app.destroy();
  }
});
