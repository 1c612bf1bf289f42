// withOAuthRefreshToken against a real OAuth server: oidc-provider with refresh-token rotation and
// reuse detection (a refresh token sent twice revokes the whole grant), 4 s JWT access tokens that
// an API verifies against the provider's JWKS. The login (authorization code + PKCE) is driven
// headlessly; its token response is handed to OAuthSession.signIn as an app would.
import { createRootInjector } from './helpers/injector.mjs';
import { startOAuthServer, PUBLIC_CLIENT, API_RESOURCE } from './helpers/oauth-server.mjs';
import { sleep, startJwtApi } from './helpers/oauth-api.mjs';
import { quietPeriod, untilStatus } from './helpers/wait.mjs';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HttpClient, provideHttpClient, withFetch, withInterceptors } from '@angular/common/http';
import { firstValueFrom } from 'rxjs';
import { AuthService, FreshTokenError, freshTokenInterceptor, provideFreshToken, withAuthorizedUrls, withRefreshBuffer } from 'ngx-fresh-token';
import { OAuthSession, withOAuthRefreshToken } from 'ngx-fresh-token/oauth';

let oauth;
let api;
const injectors = [];

before(async () => {
  oauth = await startOAuthServer({ accessTokenTtlSeconds: 4 });
  api = await startJwtApi({ issuer: oauth.origin, audience: API_RESOURCE });
});

after(async () => {
  injectors.forEach((i) => i.destroy());
  await Promise.all([oauth?.close(), api?.close()]);
});

/** A storage that logs every write, to check the order of "stored" and "refreshed". */
function recordingStorage(log) {
  let value = null;
  return {
    get: () => value,
    set: async (token) => {
      await sleep(5); // a slow store must still finish before the refresh resolves
      value = token;
      log.push(token === null ? 'cleared' : `stored:${token}`);
    },
  };
}

async function signedIn() {
  const log = [];
  const storage = recordingStorage(log);
  const injector = createRootInjector([
    provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor])),
    provideFreshToken(withOAuthRefreshToken({ tokenUrl: oauth.tokenUrl, clientId: PUBLIC_CLIENT.clientId, storage }), withAuthorizedUrls(api.origin), withRefreshBuffer(1_000)),
  ]);
  injectors.push(injector);
  const auth = injector.get(AuthService);
  const events = [];
  auth.events$.subscribe((e) => {
    events.push(e);
    log.push(`event:${e.type}`);
  });
  const tokens = await oauth.login();
  await injector.get(OAuthSession).signIn(tokens);
  return { injector, auth, events, log, storage, tokens, http: injector.get(HttpClient) };
}

const refreshRequests = () => oauth.tokenRequests.filter((r) => r.grantType === 'refresh_token');
/** Resolves when the access token has expired: state$ emits the `expired` status at its expiry. */
const untilExpired = (auth) => untilStatus(auth, 'expired');

test('20 concurrent API calls at expiry make exactly 1 refresh grant, twice in a row, with the rotated token each time and no invalid_grant', async () => {
  const { auth, http, events, storage, tokens, log } = await signedIn();
  assert.equal(auth.state().status, 'fresh');
  assert.equal(storage.get(), tokens.refresh_token);
  const before = refreshRequests().length;
  const sentRefreshTokens = [];

  for (let round = 1; round <= 2; round++) {
    await untilExpired(auth);
    assert.equal(auth.state().status, 'expired');
    const stored = storage.get();
    const seenBefore = api.seen.length;
    const bodies = await Promise.all(Array.from({ length: 20 }, (_, i) => firstValueFrom(http.get(`${api.origin}/r${round}/${i}`))));
    assert.equal(bodies.filter((b) => b.ok).length, 20, `round ${round}: all 20 calls succeeded`);
    assert.equal(refreshRequests().length - before, round, `round ${round}: exactly one refresh grant in total per round`);
    const sent = refreshRequests().at(-1).refreshToken;
    assert.equal(sent, stored, 'the refresh sent the newest stored token');
    sentRefreshTokens.push(sent);
    assert.notEqual(storage.get(), stored, 'the server rotated the refresh token and it was stored');
    assert.ok(api.seen.slice(seenBefore).every((s) => s.ok), 'the API saw only valid tokens (none expired)');
  }
  assert.equal(new Set(sentRefreshTokens).size, sentRefreshTokens.length, 'no refresh token was sent twice');
  assert.equal(events.filter((e) => e.type === 'session-expired' || e.type === 'refresh-failed').length, 0, 'no invalid_grant');
  // The rotated refresh token was stored before each refresh resolved (and thus before "refreshed").
  const refreshed = log.map((l, i) => (l === 'event:refreshed' ? i : -1)).filter((i) => i >= 0);
  const stores = log.map((l, i) => (l.startsWith('stored:') ? i : -1)).filter((i) => i >= 0).slice(1); // [0] is signIn
  assert.equal(stores.length, 2);
  stores.forEach((s, k) => assert.ok(s < refreshed[k], `store ${k} happened before refreshed ${k}`));
});

test('a revoked refresh token signs the user out with a session-expired event, without retrying', async () => {
  const { auth, events, storage } = await signedIn();
  await oauth.revoke(storage.get());
  const before = refreshRequests().length;
  const err = await auth.refresh().then(
    () => assert.fail('expected the refresh to fail'),
    (e) => e,
  );
  assert.ok(err instanceof FreshTokenError);
  assert.equal(err.code, 'NFT202');
  assert.match(err.message, /invalid_grant/);
  assert.equal(auth.state().status, 'signed-out');
  assert.deepEqual(events.map((e) => e.type), ['session-expired']);
  // No retry: it would be a second refresh request, and no event announces that none comes. The
  // default backoff would retry 500-1000 ms after the failure, so wait past that.
  await quietPeriod(1_200);
  assert.equal(refreshRequests().length - before, 1, 'exactly one refresh request, no retry');
  assert.equal(storage.get(), null, 'the dead refresh token is forgotten');
  assert.equal(await auth.getValidToken(), null);
});

test('signOut forgets the refresh token, so nothing can redeem it afterwards', async () => {
  const { auth, storage } = await signedIn();
  await auth.signOut();
  assert.equal(storage.get(), null);
  const before = refreshRequests().length;
  assert.equal(await auth.refresh(), null);
  assert.equal(refreshRequests().length, before);
});
