// withClientCredentials on the server (#24): the token is a service identity, so the whole process
// shares one per token URL, client id, scope and resource — not one per render. Real concurrent
// Angular server renders (helpers/server-render.mjs) call an API with HttpClient and the
// interceptor, against a real oidc-provider (client_credentials, JWT access tokens of 4 s, verified by
// the API against its JWKS) and, to see every request and script failures, a loopback token endpoint.
import '@angular/compiler';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PendingTasks, inject, signal } from '@angular/core';
import { HttpClient, provideHttpClient, withFetch, withInterceptors } from '@angular/common/http';
import { firstValueFrom } from 'rxjs';
import { AuthService, freshTokenInterceptor, provideFreshToken, withAuthorizedUrls, withRefreshRetry } from 'ngx-fresh-token';
import { withClientCredentials } from 'ngx-fresh-token/oauth';
import { createRootInjector } from './helpers/injector.mjs';
import { CONFIDENTIAL_CLIENT, API_RESOURCE, startOAuthServer } from './helpers/oauth-server.mjs';
import { startFaultTokenEndpoint, tokenAnswer } from './helpers/oauth-fault-endpoint.mjs';
import { startJwtApi } from './helpers/oauth-api.mjs';
import { untilRealTime } from './helpers/wait.mjs';
import { page, renderPage, textOf } from './helpers/server-render.mjs';
import { claimsOf } from './helpers/amplify-app.mjs';

let oauth;
let api;
let faults;
const injectors = [];

before(async () => {
  oauth = await startOAuthServer({ accessTokenTtlSeconds: 4 });
  api = await startJwtApi({ issuer: oauth.origin, audience: API_RESOURCE });
  faults = await startFaultTokenEndpoint();
});

after(async () => {
  injectors.forEach((i) => i.destroy());
  await Promise.all([oauth?.close(), api?.close(), faults?.close()]);
});

const ccRequests = () => oauth.tokenRequests.filter((r) => r.grantType === 'client_credentials').length;

/** The page: calls the API once during the render and shows what it answered. */
class OrdersPage {
  http = inject(HttpClient);
  answer = signal('pending');
  constructor() {
    inject(PendingTasks).run(() =>
      firstValueFrom(this.http.get(`${api.origin}/orders`)).then(
        (body) => this.answer.set(body.ok ? 'ok' : 'refused'),
        (err) => this.answer.set(`error ${err.status ?? err.code}`),
      ),
    );
  }
}
page(OrdersPage, '<p id="answer">{{ answer() }}</p>');

/** A page that asks AuthService for a token during the render and shows whether it got one (never the token). */
class TokenPage {
  answer = signal('pending');
  constructor() {
    const auth = inject(AuthService);
    inject(PendingTasks).run(() => auth.getValidToken().then((t) => this.answer.set(t ? 'token' : 'none'), (e) => this.answer.set(`error ${e.code}`)));
  }
}
page(TokenPage, '<p id="answer">{{ answer() }}</p>');

/** The server config of an app whose API calls carry a service token (app.config.server.ts). */
const serverProviders = (options = {}) => [
  provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor])),
  provideFreshToken(
    withClientCredentials({ tokenUrl: oauth.tokenUrl, clientId: CONFIDENTIAL_CLIENT.clientId, clientSecret: CONFIDENTIAL_CLIENT.clientSecret, scope: 'api:read', ...options }),
    withAuthorizedUrls(api.origin),
  ),
];

/** `n` concurrent renders, alternating two signed-in users (different cookies): resolves with their answers. */
async function renders(n, providers) {
  const pages = await Promise.all(
    Array.from({ length: n }, (_, i) => renderPage(OrdersPage, providers, { headers: { cookie: `session=${i % 2 ? 'bob' : 'alice'}` } })),
  );
  return pages.map((html) => textOf(html, 'answer'));
}

describe('withClientCredentials across server renders (oidc-provider, 4 s tokens)', () => {
  test('one token request per token lifetime, whatever the number of renders, renewed inside the refresh buffer before expiry', async () => {
    const providers = serverProviders();
    const start = ccRequests();
    const seenStart = api.seen.length;

    assert.deepEqual(await renders(60, providers), Array(60).fill('ok'), '60 concurrent renders, every API call answered');
    assert.equal(ccRequests() - start, 1, 'one token request for 60 concurrent renders');
    assert.deepEqual(await renders(20, providers), Array(20).fill('ok'));
    assert.equal(ccRequests() - start, 1, 'later renders within the lifetime: no token request');

    const first = api.seen[seenStart].token;
    assert.equal(new Set(api.seen.slice(seenStart).map((s) => s.token)).size, 1, 'all 80 renders sent the one token');
    // A 4 s token is inside the 30 s default buffer from the start, so (as in the core) it is renewed at
    // half its life: 2 s before expiry. Go to 1.5 s before expiry, still valid.
    await untilRealTime(claimsOf(first).exp * 1000 - 1_500);
    assert.deepEqual(await renders(20, providers), Array(20).fill('ok'));
    assert.equal(ccRequests() - start, 2, 'exactly one renewal for 20 concurrent renders inside the buffer');
    assert.deepEqual(await renders(20, providers), Array(20).fill('ok'));
    assert.equal(ccRequests() - start, 2, 'the renewed token serves the next renders');

    const sent = api.seen.slice(seenStart);
    assert.equal(sent.length, 120);
    assert.ok(sent.every((s) => s.ok), 'the API never saw an invalid or expired token');
    assert.equal(new Set(sent.map((s) => s.token)).size, 2, 'two tokens in all: the first and its renewal');
  });
});

describe('withClientCredentials: the process cache (loopback token endpoint)', () => {
  const fast = withRefreshRetry({ baseDelayMs: 20, maxDelayMs: 50 });
  let n = 0;
  /** A token per request, numbered, with `expiresIn` s. */
  const answers = (count, expiresIn = 3600) => Array.from({ length: count }, () => tokenAnswer(`svc-token-${++n}`, expiresIn));
  function injector(options = {}, features = [fast]) {
    const i = createRootInjector([
      provideFreshToken(
        withClientCredentials({ tokenUrl: faults.url, clientId: 'svc-a', clientSecret: 'svc-a-s3cret', scope: 'orders:read', ...options }),
        ...features,
      ),
    ]);
    injectors.push(i);
    return i.get(AuthService);
  }

  test('a different client id, scope or resource gets its own token; the same identity shares one, whatever the order of scopes', async () => {
    faults.script(answers(10));
    const base = { tokenUrl: faults.url, clientId: 'svc-shared', scope: 'orders:read orders:write' };
    const tokens = await Promise.all([
      injector(base).getValidToken(),
      injector({ ...base, scope: ['orders:write', 'orders:read'] }).getValidToken(),
      injector({ ...base, clientId: 'svc-other' }).getValidToken(),
      injector({ ...base, scope: 'orders:read' }).getValidToken(),
      injector({ ...base, resource: 'https://api.example.com' }).getValidToken(),
      injector({ ...base, resource: 'https://other.example.com' }).getValidToken(),
    ]);
    assert.equal(tokens[0], tokens[1], 'the same scopes in another order are the same identity');
    assert.equal(new Set(tokens).size, 5, 'five identities, five tokens');
    assert.equal(faults.requests.length, 5, 'one request per identity');
    const asked = faults.requests.map((r) => [r.body.get('client_id') ?? Buffer.from(r.headers.authorization.slice(6), 'base64').toString().split(':')[0], r.body.get('scope'), r.body.get('resource')]);
    assert.deepEqual(
      asked.map((a) => a.join('|')).sort(),
      [
        'svc-other|orders:read orders:write|',
        'svc-shared|orders:read orders:write|',
        'svc-shared|orders:read orders:write|https://api.example.com',
        'svc-shared|orders:read orders:write|https://other.example.com',
        'svc-shared|orders:read|',
      ].sort(),
    );
  });

  test('a failure is not cached: concurrent callers share the one failing request, the next caller asks again and gets a token', async () => {
    faults.script([{ status: 400, body: { error: 'invalid_client' } }, ...answers(1)]);
    const failing = await Promise.allSettled(Array.from({ length: 10 }, () => injector({ clientId: 'svc-fail' }).getValidToken()));
    assert.ok(failing.every((r) => r.status === 'rejected' && r.reason.code === 'NFT202'), 'all ten got the permanent error');
    assert.equal(faults.requests.length, 1, 'ten concurrent callers, one request');
    const token = await injector({ clientId: 'svc-fail' }).getValidToken();
    assert.match(token, /^svc-token-/);
    assert.equal(faults.requests.length, 2, 'the failure was not kept: the next caller asked again');

    faults.script([{ status: 503 }, ...answers(1)]);
    const transient = await Promise.allSettled([injector({ clientId: 'svc-503' }, [withRefreshRetry({ maxAttempts: 1 })]).getValidToken()]);
    assert.equal(transient[0].status, 'rejected');
    assert.match(await injector({ clientId: 'svc-503' }).getValidToken(), /^svc-token-/);
    assert.equal(faults.requests.length, 2, 'a 503 is not cached either');
  });

  test('a token an API rejected is replaced once for everyone holding it, and not handed out again', async () => {
    faults.script(answers(3));
    const holders = Array.from({ length: 5 }, () => injector({ clientId: 'svc-401' }));
    const first = await holders[0].getValidToken();
    assert.deepEqual(await Promise.all(holders.map((a) => a.getValidToken())), Array(5).fill(first), 'one token for all holders');
    // Each holder's 401 handling forces a refresh naming the token it replaces.
    const renewed = await Promise.all(holders.map((a) => a.refresh()));
    assert.equal(new Set(renewed).size, 1, 'all holders got the same new token');
    assert.notEqual(renewed[0], first);
    assert.equal(faults.requests.length, 2, 'one request for the first token, one for its replacement');
    assert.equal(await injector({ clientId: 'svc-401' }).getValidToken(), renewed[0], 'a newcomer gets the new token, never the rejected one');
    assert.equal(faults.requests.length, 2);
  });

  test('nothing of the user decides the token: renders with different cookies share it, and the token request carries nothing of theirs', async () => {
    faults.script(answers(1));
    const providers = [provideFreshToken(withClientCredentials({ tokenUrl: faults.url, clientId: 'svc-render', clientSecret: 'svc-render-s3cret' }))];
    const html = await Promise.all(
      ['alice', 'bob', 'carol', 'dave'].map((user) =>
        renderPage(TokenPage, providers, { headers: { cookie: `session=${user}-cookie`, authorization: `Bearer ${user}-user-token`, 'x-user': user } }),
      ),
    );
    assert.deepEqual(html.map((h) => textOf(h, 'answer')), Array(4).fill('token'));
    assert.equal(faults.requests.length, 1, 'four users, one service token request');
    const request = JSON.stringify({ headers: faults.requests[0].headers, body: [...faults.requests[0].body] });
    for (const user of ['alice', 'bob', 'carol', 'dave']) assert.ok(!request.includes(user), `nothing of ${user} in the token request`);
  });
});
