import { provideHttpClient } from '@angular/common/http';
import { provideHttpClientTesting } from '@angular/common/http/testing';
import { EnvironmentInjector, PLATFORM_ID, Provider, createEnvironmentInjector, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { AuthService, FreshTokenError, FreshTokenFeature, provideFreshToken, withAuthorizedUrls, withRefreshRetry } from 'ngx-fresh-token';
import { createTestJwt, flushMicrotasks } from 'ngx-fresh-token/testing';
import { ClientCredentialsOptions, withClientCredentials } from './client-credentials';
import { OAuthErrorCode } from './errors';
import { setupOAuthTestBed, verifyOAuthRequests } from './oauth-testbed.spec-helper';

const TOKEN_URL = 'https://auth.example.com/oauth2/token';
const SECRET = 'cc-s3cret-9f8e7d6c-must-not-leak';
let identities = 0;
/**
 * The TestBed with a client-credentials source of a service identity of its own (a new client id):
 * the token cache is process-wide, so specs that shared one would see each other's tokens.
 */
function setup(options: Partial<ClientCredentialsOptions> = {}, extra: { providers?: Provider[]; features?: FreshTokenFeature[] } = {}) {
  const ccOptions: ClientCredentialsOptions = { tokenUrl: TOKEN_URL, clientId: `svc-${++identities}`, clientSecret: SECRET, scope: ['api/read', 'api/write'], ...options };
  const testBed = setupOAuthTestBed(withClientCredentials(ccOptions), {
    features: [withAuthorizedUrls('https://api.example.com'), ...(extra.features ?? [])],
    providers: [{ provide: PLATFORM_ID, useValue: 'server' }, ...(extra.providers ?? [])],
  });
  /** Another injector with the same configuration, as the next server render has: its own AuthService. */
  const render = (features: FreshTokenFeature[] = []) =>
    createEnvironmentInjector([provideFreshToken(withClientCredentials(ccOptions), ...features)], TestBed.inject(EnvironmentInjector)).get(AuthService);
  return { ...testBed, clientId: ccOptions.clientId, render };
}

const tokenBody = (token: string, expiresIn = 3600) => ({ access_token: token, token_type: 'Bearer', expires_in: expiresIn });

describe('withClientCredentials', () => {
  afterEach(verifyOAuthRequests);

  it('posts a form-encoded client_credentials request with Basic auth, bypassing the interceptor', async () => {
    const { auth, httpMock, clientId } = setup();
    const token = auth.getValidToken();
    await flushMicrotasks();
    const req = httpMock.expectOne(TOKEN_URL);
    expect(req.request.method).toBe('POST');
    expect(req.request.headers.get('Content-Type')).toBe('application/x-www-form-urlencoded');
    expect(req.request.headers.get('Authorization')).toBe(`Basic ${btoa(`${clientId}:${SECRET}`)}`);
    expect(new URLSearchParams(req.request.body as string).get('grant_type')).toBe('client_credentials');
    expect(new URLSearchParams(req.request.body as string).get('scope')).toBe('api/read api/write');
    req.flush(JSON.stringify(tokenBody('tok-1')));
    expect(await token).toBe('tok-1');
  });

  it('caches the token: API calls make zero token requests until the buffer, then exactly one', async () => {
    const { auth, http, httpMock, clock } = setup();
    void auth.getValidToken();
    await flushMicrotasks();
    httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-1', 120)));
    await flushMicrotasks();
    for (let i = 0; i < 5; i++) {
      http.get(`https://api.example.com/x/${i}`).subscribe();
      httpMock.expectOne(`https://api.example.com/x/${i}`).flush({});
    }
    httpMock.expectNone(TOKEN_URL);
    await clock.advance(89_000); // 31 s left: still outside the 30 s buffer
    http.get('https://api.example.com/y').subscribe();
    httpMock.expectOne('https://api.example.com/y').flush({});
    httpMock.expectNone(TOKEN_URL);
    await clock.advance(2_000); // 29 s left: inside the buffer, renew before expiry
    http.get('https://api.example.com/z').subscribe();
    // Still well valid: sent at once with tok-1 while the one renewal runs in the background.
    expect(httpMock.expectOne('https://api.example.com/z').request.headers.get('Authorization')).toBe('Bearer tok-1');
    await flushMicrotasks();
    httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-2', 120)));
    await flushMicrotasks();
    http.get('https://api.example.com/w').subscribe();
    expect(httpMock.expectOne('https://api.example.com/w').request.headers.get('Authorization')).toBe('Bearer tok-2');
    httpMock.expectNone(TOKEN_URL);
  });

  it('100 concurrent calls make 1 token request', async () => {
    const { http, httpMock } = setup();
    for (let i = 0; i < 100; i++) http.get(`https://api.example.com/c/${i}`).subscribe();
    await flushMicrotasks();
    httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-1')));
    await flushMicrotasks();
    const calls = httpMock.match((r) => r.url.startsWith('https://api.example.com/c/'));
    expect(calls.length).toBe(100);
    expect(calls.every((c) => c.request.headers.get('Authorization') === 'Bearer tok-1')).toBeTrue();
    calls.forEach((c) => c.flush({}));
  });

  it('waits at least Retry-After: 2 s after a 429 before the next attempt', async () => {
    const { auth, httpMock, clock } = setup();
    const token = auth.getValidToken();
    await flushMicrotasks();
    httpMock.expectOne(TOKEN_URL).flush('{"error":"slow_down"}', { status: 429, statusText: 'Too Many Requests', headers: { 'Retry-After': '2' } });
    await clock.advance(1_999);
    httpMock.expectNone(TOKEN_URL);
    await clock.advance(1);
    httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-after')));
    expect(await token).toBe('tok-after');
  });

  it('honours Retry-After as an HTTP date', async () => {
    const { auth, httpMock, clock } = setup();
    const token = auth.getValidToken();
    await flushMicrotasks();
    const date = new Date(clock.now() + 7_000).toUTCString();
    httpMock.expectOne(TOKEN_URL).flush('', { status: 429, statusText: 'Too Many Requests', headers: { 'Retry-After': date } });
    await clock.advance(6_999);
    httpMock.expectNone(TOKEN_URL);
    await clock.advance(1);
    httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-date')));
    expect(await token).toBe('tok-date');
  });

  it('succeeds after 503 twice then 200, with backoff in between', async () => {
    const { auth, httpMock, clock } = setup({}, { features: [withRefreshRetry({ baseDelayMs: 1_000, maxDelayMs: 4_000 })] });
    const token = auth.getValidToken();
    for (let i = 0; i < 2; i++) {
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush('', { status: 503, statusText: 'Service Unavailable' });
      await clock.advance(400);
      httpMock.expectNone(TOKEN_URL); // the backoff is at least half the base delay
      await clock.advance(4_000);
    }
    httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-3')));
    expect(await token).toBe('tok-3');
  });

  it('aborts a hanging request after timeoutMs with a coded transient error', async () => {
    const { auth, httpMock, clock } = setup({ timeoutMs: 2_000 }, { features: [withRefreshRetry({ maxAttempts: 1 })] });
    let error: FreshTokenError | undefined;
    auth.getValidToken().catch((e) => (error = e));
    await flushMicrotasks();
    const req = httpMock.expectOne(TOKEN_URL);
    await clock.advance(1_999);
    expect(error).toBeUndefined();
    await clock.advance(1);
    expect(req.cancelled).toBeTrue();
    expect(error?.code).toBe(OAuthErrorCode.TokenEndpointTimeout);
    expect(error?.transient).toBeTrue();
  });

  it('ends the session on a wrong secret after one request, without the secret in the error', async () => {
    const { auth, httpMock, clock, events, clientId } = setup();
    let error: FreshTokenError | undefined;
    auth.getValidToken().catch((e) => (error = e));
    await flushMicrotasks();
    httpMock.expectOne(TOKEN_URL).flush('{"error":"invalid_client"}', { status: 401, statusText: 'Unauthorized' });
    await clock.advance(60_000);
    httpMock.expectNone(TOKEN_URL);
    expect(error?.code).toBe('NFT202');
    expect(auth.state().status).toBe('signed-out');
    expect(events.map((e) => e.type)).toEqual(['session-expired']);
    const renderings = [String(error), error!.stack ?? '', JSON.stringify(error), ...Object.values(error!).map((v) => JSON.stringify(v))];
    for (const text of renderings) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(btoa(`${clientId}:${SECRET}`));
    }
  });

  describe('one token per process and service identity (a server render has an injector of its own)', () => {
    it('hands the cached token to later renders with no request until the refresh buffer, then one request for all', async () => {
      const { auth, httpMock, clock, render } = setup();
      void auth.getValidToken();
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-1', 120)));
      expect(await auth.getValidToken()).toBe('tok-1');
      expect(await render().getValidToken()).toBe('tok-1');
      await clock.advance(89_000); // 31 s left: outside the 30 s buffer
      expect(await render().getValidToken()).toBe('tok-1');
      httpMock.expectNone(TOKEN_URL);
      await clock.advance(2_000); // 29 s left: inside the buffer, so a new render does not start on it
      const late = [render().getValidToken(), render().getValidToken(), render().getValidToken()];
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-2', 120)));
      expect(await Promise.all(late)).toEqual(['tok-2', 'tok-2', 'tok-2']);
      expect(await render().getValidToken()).toBe('tok-2');
    });

    it('renews a token shorter than the buffer at half its lifetime, as the core does', async () => {
      const { auth, httpMock, clock, render } = setup();
      void auth.getValidToken();
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-short', 20)));
      await clock.advance(9_000); // 11 s left of 20: more than half
      expect(await render().getValidToken()).toBe('tok-short');
      await clock.advance(2_000); // 9 s left: less than half
      const late = render().getValidToken();
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-next', 20)));
      expect(await late).toBe('tok-next');
    });

    it('replaces a token that renders force out (an API rejected it) once for all of them, and never hands it out again', async () => {
      const { auth, httpMock, render } = setup();
      void auth.getValidToken();
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-1')));
      const other = render();
      const stale = render();
      expect(await other.getValidToken()).toBe('tok-1');
      expect(await stale.getValidToken()).toBe('tok-1');
      const forced = [auth.refresh(), other.refresh()];
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-2')));
      expect(await Promise.all(forced)).toEqual(['tok-2', 'tok-2']);
      expect(await render().getValidToken()).toBe('tok-2');
      // A render that still holds tok-1 and forces it out gets tok-2, with no request.
      expect(await stale.refresh()).toBe('tok-2');
      httpMock.expectNone(TOKEN_URL);
    });

    it('keeps no token the core refuses: a token with a control character is asked for again by the next render, not served to all (attacker review)', async () => {
      const { auth, httpMock, render } = setup({}, { features: [withRefreshRetry({ maxAttempts: 1 })] });
      let error: FreshTokenError | undefined;
      auth.getValidToken().catch((e) => (error = e));
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify({ access_token: 'tok\u0001bad', token_type: 'Bearer' }));
      await flushMicrotasks();
      expect(error?.code).toBe('NFT203');
      const next = render().getValidToken();
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-good')));
      expect(await next).toBe('tok-good');
    });

    it('keeps no JWT that expires before its own iat (the core measures it from iat: expired on arrival, NFT205)', async () => {
      const { auth, httpMock, render, clock } = setup({}, { features: [withRefreshRetry({ maxAttempts: 1 })] });
      const nowS = Math.floor(clock.now() / 1000);
      const skewed = createTestJwt({ claims: { iat: nowS + 3600, exp: nowS + 600 } });
      let error: FreshTokenError | undefined;
      auth.getValidToken().catch((e) => (error = e));
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify({ access_token: skewed, token_type: 'Bearer' }));
      await flushMicrotasks();
      expect(error?.code).toBe('NFT205');
      const next = render().getValidToken();
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-good')));
      expect(await next).toBe('tok-good');
    });

    it('keeps no failure: the next render asks again', async () => {
      const { auth, httpMock, render } = setup({}, { features: [withRefreshRetry({ maxAttempts: 1 })] });
      let error: FreshTokenError | undefined;
      auth.getValidToken().catch((e) => (error = e));
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush('', { status: 503, statusText: 'Service Unavailable' });
      await flushMicrotasks();
      expect(error?.transient).toBeTrue();
      const next = render().getValidToken();
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-after')));
      expect(await next).toBe('tok-after');
    });

    it('gives another scope, resource, client or secret its own token, and the same scopes in any order the same one', async () => {
      const { auth, httpMock, clientId } = setup({ scope: 'b a' });
      void auth.getValidToken();
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody('tok-ab')));
      const withOptions = (options: Partial<ClientCredentialsOptions>) =>
        createEnvironmentInjector(
          [provideFreshToken(withClientCredentials({ tokenUrl: TOKEN_URL, clientId, clientSecret: SECRET, scope: 'b a', ...options }))],
          TestBed.inject(EnvironmentInjector),
        ).get(AuthService);
      expect(await withOptions({ scope: ['a', 'b', 'a'] }).getValidToken()).toBe('tok-ab');
      httpMock.expectNone(TOKEN_URL);
      const others = [{ scope: 'a' }, { resource: 'https://api.example.com' }, { clientId: `${clientId}-other` }, { clientSecret: `${SECRET}-rotated` }];
      for (const [i, options] of others.entries()) {
        const token = withOptions(options).getValidToken();
        await flushMicrotasks();
        httpMock.expectOne(TOKEN_URL).flush(JSON.stringify(tokenBody(`tok-other-${i}`)));
        expect(await token).toBe(`tok-other-${i}`);
      }
    });
  });

  it('gives NFT302 for malformed JSON and for a missing access_token', async () => {
    for (const body of ['<html>', '{"token_type":"Bearer"}']) {
      TestBed.resetTestingModule();
      const { auth, httpMock } = setup();
      let error: FreshTokenError | undefined;
      auth.getValidToken().catch((e) => (error = e));
      await flushMicrotasks();
      httpMock.expectOne(TOKEN_URL).flush(body);
      await flushMicrotasks();
      expect(error?.code).toBe(OAuthErrorCode.MalformedTokenResponse);
    }
  });

  it('refuses to run in a browser with NFT301, naming no secret', () => {
    TestBed.configureTestingModule({
      providers: [
        provideZonelessChangeDetection(),
        provideHttpClient(),
        provideHttpClientTesting(),
        provideFreshToken(withClientCredentials({ tokenUrl: TOKEN_URL, clientId: 'svc', clientSecret: SECRET })),
      ],
    });
    let error: FreshTokenError | undefined;
    try {
      TestBed.inject(AuthService);
    } catch (e) {
      error = e as FreshTokenError;
    }
    expect(error?.code).toBe(OAuthErrorCode.ClientSecretInBrowser);
    expect(error?.message).toContain('browser');
    expect(JSON.stringify(error) + String(error) + error?.stack).not.toContain(SECRET);
  });

  it('rejects missing options with NFT303 naming the option but not the value', () => {
    expect(() => withClientCredentials({ tokenUrl: TOKEN_URL, clientId: 'svc', clientSecret: '' })).toThrowMatching(
      (e) => (e as FreshTokenError).code === OAuthErrorCode.InvalidOAuthOption && /clientSecret/.test((e as Error).message),
    );
    expect(() => withClientCredentials({ tokenUrl: TOKEN_URL, clientId: 'svc', clientSecret: SECRET, timeoutMs: -1 })).toThrowMatching(
      (e) => !(e as Error).message.includes(SECRET),
    );
  });
});
