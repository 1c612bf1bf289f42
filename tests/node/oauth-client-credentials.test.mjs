// withClientCredentials against a real OAuth server (oidc-provider: client_credentials grant, JWT
// access tokens of 4 s, verified by an API against the provider's JWKS) and, for the faults a real
// server does not produce on demand, a loopback token endpoint. The built package is used by name.
import { createRootInjector } from './helpers/injector.mjs';
import { startOAuthServer, CONFIDENTIAL_CLIENT, API_RESOURCE } from './helpers/oauth-server.mjs';
import { startFaultTokenEndpoint, tokenAnswer } from './helpers/oauth-fault-endpoint.mjs';
import { captureConsole, renderings, secretForms, startJwtApi } from './helpers/oauth-api.mjs';
import { quietPeriod, untilStatus, waitFor } from './helpers/wait.mjs';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PLATFORM_ID } from '@angular/core';
import { HttpClient, provideHttpClient, withFetch, withInterceptors } from '@angular/common/http';
import { firstValueFrom } from 'rxjs';
import {
  AuthService,
  FreshTokenError,
  freshTokenInterceptor,
  provideFreshToken,
  withAuthorizedUrls,
  withRefreshBuffer,
  withRefreshRetry,
} from 'ngx-fresh-token';
import { OAuthErrorCode, withClientCredentials } from 'ngx-fresh-token/oauth';

const WRONG_SECRET = 'wr0ng-S3cret-7c41d9e2-never-print-me';
let oauth;
let api;
let faults;
let consoleCapture;
const errors = [];
const injectors = [];

before(async () => {
  consoleCapture = captureConsole();
  oauth = await startOAuthServer({ accessTokenTtlSeconds: 4 });
  api = await startJwtApi({ issuer: oauth.origin, audience: API_RESOURCE });
  faults = await startFaultTokenEndpoint();
});

after(async () => {
  injectors.forEach((i) => i.destroy());
  await Promise.all([oauth?.close(), api?.close(), faults?.close()]);
  consoleCapture?.restore();
});

// withClientCredentials keeps one token per service identity for the whole process (see
// oauth-client-credentials-server.test.mjs): a test that counts token requests from a cold start uses
// an identity of its own (client id, resource, secret or URL), so no earlier test's token is in the cache.
function setup({ clientSecret = CONFIDENTIAL_CLIENT.clientSecret, tokenUrl = oauth.tokenUrl, features = [], extraProviders = [], ...rest } = {}) {
  const injector = createRootInjector([
    ...extraProviders,
    provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor])),
    provideFreshToken(
      withClientCredentials({ tokenUrl, clientId: CONFIDENTIAL_CLIENT.clientId, clientSecret, scope: 'api:read', ...rest }),
      withAuthorizedUrls(api.origin),
      ...features,
    ),
  ]);
  injectors.push(injector);
  const auth = injector.get(AuthService);
  const events = [];
  auth.events$.subscribe((e) => {
    events.push(e);
    if (e.error) errors.push(e.error);
  });
  return { injector, auth, events, http: injector.get(HttpClient) };
}

const ccRequests = () => oauth.tokenRequests.filter((r) => r.grantType === 'client_credentials').length;

async function expectRejection(promise) {
  try {
    await promise;
  } catch (err) {
    errors.push(err);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('withClientCredentials against oidc-provider', () => {
  test('first call fetches a token, later calls use the cache with zero token requests, renewal happens inside the buffer before expiry', async () => {
    const before = ccRequests();
    const { http, auth } = setup({ features: [withRefreshBuffer(1_500)] });
    assert.deepEqual(await firstValueFrom(http.get(`${api.origin}/orders`)), { ok: true });
    assert.equal(ccRequests() - before, 1);
    const first = auth.state().token;
    const expiresAt = auth.state().expiresAt;
    for (let i = 0; i < 10; i++) await firstValueFrom(http.get(`${api.origin}/orders/${i}`));
    assert.equal(ccRequests() - before, 1, 'cached token reused, no token request');
    // Into the buffer (1.5 s before expiry) but not past expiry: state$ says when.
    await untilStatus(auth, 'expiring');
    assert.ok(Date.now() < expiresAt, 'still before expiry');
    await firstValueFrom(http.get(`${api.origin}/orders/late`));
    assert.equal(ccRequests() - before, 2, 'renewed once inside the buffer');
    assert.notEqual(auth.state().token, first);
    assert.ok(api.seen.every((s) => s.ok), 'the API never saw an invalid or expired token');
  });

  test('100 concurrent calls make exactly 1 token request and all reach the API with a valid token', async () => {
    const before = ccRequests();
    const { http } = setup({ resource: API_RESOURCE });
    const seenBefore = api.seen.length;
    const bodies = await Promise.all(Array.from({ length: 100 }, (_, i) => firstValueFrom(http.get(`${api.origin}/items/${i}`))));
    assert.equal(ccRequests() - before, 1);
    assert.equal(bodies.filter((b) => b.ok).length, 100);
    assert.equal(api.seen.length - seenBefore, 100);
  });

  test('a wrong secret gives a coded permanent error after exactly 1 token request, and the session ends', async () => {
    const before = ccRequests();
    // Fast backoff: a wrongful retry would come within 100 ms, well inside the quiet period below.
    const { auth, events } = setup({ clientSecret: WRONG_SECRET, features: [withRefreshRetry({ baseDelayMs: 50, maxDelayMs: 100 })] });
    const err = await expectRejection(auth.getValidToken());
    assert.ok(err instanceof FreshTokenError);
    assert.equal(err.code, 'NFT202');
    assert.equal(err.status, 401);
    assert.equal(err.transient, false);
    // Nothing is retried behind our back: a retry would be a token request, and no event announces
    // that none comes, so give one the time the backoff above would take, three times over.
    await quietPeriod(300);
    assert.equal(ccRequests() - before, 1);
    assert.equal(auth.state().status, 'signed-out');
    assert.deepEqual(events.map((e) => e.type), ['session-expired']);
  });
});

describe('withClientCredentials against a loopback token endpoint (faults)', () => {
  const fast = withRefreshRetry({ baseDelayMs: 50, maxDelayMs: 200 });

  test('429 with Retry-After: 2 makes the next attempt wait at least 2 s, then succeeds', async () => {
    faults.script([{ status: 429, headers: { 'retry-after': '2' }, body: { error: 'slow_down' } }, tokenAnswer('tok-after-429')]);
    const { auth } = setup({ tokenUrl: faults.url, clientId: 'svc-429', features: [fast] });
    assert.equal(await auth.getValidToken(), 'tok-after-429');
    assert.equal(faults.requests.length, 2);
    assert.ok(faults.requests[1].atMs - faults.requests[0].atMs >= 2_000, `waited ${faults.requests[1].atMs - faults.requests[0].atMs} ms`);
  });

  test('503 twice then 200 succeeds after 3 requests', async () => {
    faults.script([{ status: 503 }, { status: 503 }, tokenAnswer('tok-after-503')]);
    const { auth } = setup({ tokenUrl: faults.url, clientId: 'svc-503', features: [fast] });
    assert.equal(await auth.getValidToken(), 'tok-after-503');
    assert.equal(faults.requests.length, 3);
    assert.equal(auth.state().status, 'fresh');
  });

  test('a hanging endpoint is bounded by timeoutMs: each request is aborted and a coded error results', async () => {
    faults.script(['hang']);
    const { auth } = setup({ tokenUrl: faults.url, clientId: 'svc-hang', timeoutMs: 300, features: [withRefreshRetry({ maxAttempts: 2, baseDelayMs: 50 })] });
    const started = Date.now();
    const err = await expectRejection(auth.getValidToken());
    assert.equal(err.code, OAuthErrorCode.TokenEndpointTimeout);
    assert.equal(err.transient, true);
    assert.ok(Date.now() - started < 3_000);
    // The server sees each abort as the close of its response.
    await waitFor(() => faults.requests.length >= 2 && faults.requests.every((r) => r.aborted), 5_000, 'both requests aborted');
    assert.equal(faults.requests.length, 2);
    assert.ok(faults.requests.every((r) => r.aborted), 'both requests were aborted');
  });

  test('malformed JSON and a missing access_token give NFT302 after one request', async () => {
    for (const answer of [{ status: 200, body: '<html>not json' }, { status: 200, body: { token_type: 'Bearer', expires_in: 60 } }]) {
      faults.script([answer]);
      const { auth } = setup({ tokenUrl: faults.url, clientId: 'svc-malformed', features: [fast] });
      const err = await expectRejection(auth.getValidToken());
      assert.equal(err.code, OAuthErrorCode.MalformedTokenResponse);
      assert.equal(faults.requests.length, 1);
    }
  });

  test('400 invalid_client ends the session without retry; the Basic header follows RFC 6749 §2.3.1', async () => {
    faults.script([{ status: 400, body: { error: 'invalid_client' } }]);
    const { auth } = setup({ tokenUrl: faults.url, clientSecret: WRONG_SECRET, features: [fast] });
    const err = await expectRejection(auth.getValidToken());
    assert.equal(err.code, 'NFT202');
    assert.match(err.message, /invalid_client/);
    assert.equal(faults.requests.length, 1);
    const req = faults.requests[0];
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(req.headers.authorization, `Basic ${Buffer.from(`${CONFIDENTIAL_CLIENT.clientId}:${WRONG_SECRET}`).toString('base64')}`);
    assert.equal(req.body.get('grant_type'), 'client_credentials');
    assert.equal(req.body.get('scope'), 'api:read');
    assert.equal(req.body.get('client_secret'), null);
  });

  test('client_secret_post sends id and secret as form fields', async () => {
    faults.script([tokenAnswer('tok-post')]);
    const { auth } = setup({ tokenUrl: faults.url, authMethod: 'client_secret_post', resource: 'https://api.example.com' });
    assert.equal(await auth.getValidToken(), 'tok-post');
    const req = faults.requests[0];
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.body.get('client_id'), CONFIDENTIAL_CLIENT.clientId);
    assert.equal(req.body.get('client_secret'), CONFIDENTIAL_CLIENT.clientSecret);
    assert.equal(req.body.get('resource'), 'https://api.example.com');
  });
});

describe('withClientCredentials refuses a browser', () => {
  test('with PLATFORM_ID browser: NFT301 explaining why, without the secret', () => {
    assert.throws(
      () => setup({ clientSecret: WRONG_SECRET, extraProviders: [{ provide: PLATFORM_ID, useValue: 'browser' }] }),
      (e) => {
        errors.push(e);
        return e instanceof FreshTokenError && e.code === OAuthErrorCode.ClientSecretInBrowser && /must never|is public/.test(e.message);
      },
    );
  });

  test('without a platform but with window and document globals: NFT301', () => {
    globalThis.window = globalThis;
    globalThis.document = {};
    try {
      assert.throws(
        () => setup({ clientSecret: WRONG_SECRET }),
        (e) => {
          errors.push(e);
          return e instanceof FreshTokenError && e.code === 'NFT301';
        },
      );
    } finally {
      delete globalThis.window;
      delete globalThis.document;
    }
  });
});

describe('the client secret never leaks', () => {
  test('no error (JSON, String, stack, every property) and no console line contains the secret', () => {
    assert.ok(errors.length >= 6, `collected ${errors.length} errors`);
    const forms = [...secretForms(CONFIDENTIAL_CLIENT.clientId, CONFIDENTIAL_CLIENT.clientSecret), ...secretForms(CONFIDENTIAL_CLIENT.clientId, WRONG_SECRET)];
    for (const err of errors) {
      for (const text of renderings(err)) for (const form of forms) assert.ok(!text.includes(form), `an error rendering contains a secret: ${err.code}`);
    }
    for (const line of consoleCapture.lines) for (const form of forms) assert.ok(!line.includes(form), 'a console line contains a secret');
  });
});
