// ngx-fresh-token/amplify on the server (#24): real concurrent Angular server renders
// (@angular/platform-server's renderApplication, zoneless, a JIT component) for two users that
// alternate, each render calling GraphQL through Amplify against the loopback AppSync stand-in,
// which verifies every token with jose. The users' sessions reach the renders the way the README
// wires them: withSessionEndpoint() reading a createSessionRenderContext() from REQUEST_CONTEXT,
// plus provideAmplifyFreshToken(). Amplify is one object per Node process: a render must never
// install anything into it, and each page must show only its own user's answer.
import '@angular/compiler';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PendingTasks, inject, signal } from '@angular/core';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { Amplify } from 'aws-amplify';
import { generateClient } from 'aws-amplify/api';
import { Hub } from 'aws-amplify/utils';
import { provideFreshToken } from 'ngx-fresh-token';
import { AmplifyFreshToken, AmplifyFreshTokenErrorCode, provideAmplifyFreshToken } from 'ngx-fresh-token/amplify';
import { withSessionEndpoint } from 'ngx-fresh-token/oauth';
import { createSessionRenderContext } from 'ngx-fresh-token/oauth/server';
import { RENDER_ORIGIN, page, renderPage, textOf } from './helpers/server-render.mjs';
import { startAppSync } from './helpers/amplify-appsync.mjs';
import { claimsOf } from './helpers/amplify-app.mjs';

const ISSUER = 'https://sessions.example.test';
const QUERY = 'query Me { me { sub } }';
const USERS = ['alice', 'bob'];
let appsync;
let privateKey;
/** Tokens the session stand-in issued, per user. */
const issued = { alice: 0, bob: 0 };
/** Amplify's own `configure` events: a render must not reconfigure the process-wide Amplify. */
const configureEvents = [];
let stopHub;

async function issueToken(sub) {
  issued[sub]++;
  return new SignJWT({ scope: 'graphql' })
    .setProtectedHeader({ alg: 'RS256', kid: 'sessions-1' })
    .setIssuer(ISSUER)
    .setSubject(sub)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
}

before(async () => {
  const keys = await generateKeyPair('RS256');
  privateKey = keys.privateKey;
  const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: 'sessions-1', alg: 'RS256', use: 'sig' };
  appsync = await startAppSync({ extraJwks: { keys: [publicJwk] } });
  // Answers take a moment, so every render's GraphQL call overlaps the bootstrap of the others.
  appsync.setDelayMs(40);
  stopHub = Hub.listen('core', ({ payload }) => payload.event === 'configure' && configureEvents.push(payload));
});

after(async () => {
  stopHub?.();
  await appsync?.stop();
});

const resources = (defaultAuthMode = 'oidc') => ({ API: { GraphQL: { endpoint: appsync.graphqlEndpoint, region: 'local', defaultAuthMode } } });

/**
 * The page: on creation it asks the loopback AppSync who it is, through Amplify, in the ways the
 * README shows (a client generated from the render's context, with and without the retry-once
 * wrapper; and a client of the process-wide Amplify that gets the token per call in lambda mode),
 * and renders the answers. PendingTasks keeps the render open until they are in.
 */
class MePage {
  amplify = inject(AmplifyFreshToken);
  viaContext = signal('pending');
  viaWrapper = signal('pending');
  viaPerCall = signal('pending');

  constructor() {
    const attempt = async (target, call) => {
      try {
        const result = await call();
        target.set(String(result.data.me.sub));
      } catch (err) {
        target.set(`error ${err?.code ?? err?.errors?.[0]?.message ?? err?.message ?? err}`);
      }
    };
    const client = generateClient(this.amplify.context);
    const processClient = generateClient();
    inject(PendingTasks).run(() =>
      Promise.all([
        attempt(this.viaContext, () => client.graphql({ query: QUERY })),
        attempt(this.viaWrapper, () => this.amplify.graphql((headers) => client.graphql({ query: QUERY }, headers))),
        attempt(this.viaPerCall, () => this.amplify.graphql((headers) => processClient.graphql({ query: QUERY, authMode: 'lambda' }, headers))),
      ]),
    );
  }
}
page(MePage, '<p id="context">{{ viaContext() }}</p><p id="wrapper">{{ viaWrapper() }}</p><p id="per-call">{{ viaPerCall() }}</p>');

/** Renders the page for `user` the way AngularNodeAppEngine.handle(request, context) would. */
function renderFor(user, amplifyOptions) {
  const context = createSessionRenderContext({
    origin: RENDER_ORIGIN,
    user: { sub: user },
    getToken: async () => ({ accessToken: await issueToken(user), expiresIn: 300 }),
  });
  return renderPage(
    MePage,
    [provideFreshToken(withSessionEndpoint({ url: '/session/token' })), provideAmplifyFreshToken(resources(), amplifyOptions)],
    { headers: { cookie: `session=${user}` }, context }, // context = { [FRESH_TOKEN_RENDER_CONTEXT_KEY]: … }
  );
}

describe('concurrent server renders of two users with the Amplify bridge and the session endpoint', () => {
  // The process keeps one resources-only configuration of its own (what a server.ts may do once):
  // the per-call path uses it; nothing user-specific may ever be added to it.
  before(() => Amplify.configure(resources()));

  for (const [label, amplifyOptions] of [
    ['with the TokenProvider bridge (tokenProvider: true)', { tokenProvider: true }],
    ['with the default options (GraphQL headers)', {}],
  ]) {
    test(`${label}: 20 alternating renders, each page shows only its own user's answers, and none reconfigures Amplify`, async () => {
      const configuresBefore = configureEvents.length;
      const logStart = appsync.graphqlLog.length;
      const order = Array.from({ length: 20 }, (_, i) => USERS[i % 2]);
      const pages = await Promise.all(order.map((user) => renderFor(user, amplifyOptions)));
      const seen = pages.map((html) => ({ context: textOf(html, 'context'), wrapper: textOf(html, 'wrapper'), perCall: textOf(html, 'per-call') }));
      assert.deepEqual(
        seen,
        order.map((user) => ({ context: user, wrapper: user, perCall: user })),
        "each page shows its own user's answer on every path",
      );
      const calls = appsync.graphqlLog.slice(logStart);
      assert.equal(calls.length, 60, 'three GraphQL calls per render reached AppSync');
      assert.ok(calls.every((c) => c.status === 200), 'every call carried a token AppSync accepted');
      assert.deepEqual(
        [...new Set(calls.map((c) => claimsOf(c.token).sub))].sort(),
        USERS,
        'both users called',
      );
      assert.equal(configureEvents.length, configuresBefore, 'no render called Amplify.configure (the process-wide object)');
      for (const html of pages) assert.doesNotMatch(html, /eyJ[A-Za-z0-9_-]{4,}\./, 'no token in the page');
    });
  }
});

describe('the process-wide Amplify on the server', () => {
  test('configure() on the server refuses with NFT505 and says what to do, leaving Amplify untouched', async () => {
    const configuresBefore = configureEvents.length;
    let thrown = null;
    class ConfigurePage {
      constructor() {
        try {
          inject(AmplifyFreshToken).configure();
        } catch (err) {
          thrown = err;
        }
      }
    }
    page(ConfigurePage, '<p>page</p>');
    await renderPage(ConfigurePage, [provideFreshToken(withSessionEndpoint({ url: '/session/token' })), provideAmplifyFreshToken(resources())]);
    assert.equal(thrown?.code, AmplifyFreshTokenErrorCode.ServerConfigure);
    assert.equal(thrown.code, 'NFT505');
    assert.match(thrown.message, /generateClient\(.*\.context\)/, 'the message says what to use instead');
    assert.equal(configureEvents.length, configuresBefore);
  });
});
