import { TestRequest } from '@angular/common/http/testing';
import { PLATFORM_ID, Provider } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { FreshTokenError, FreshTokenFeature, withRefreshRetry } from 'ngx-fresh-token';
import { ManualClock, createTestJwt, flushMicrotasks } from 'ngx-fresh-token/testing';
import { OAuthErrorCode } from './errors';
import { setupOAuthTestBed, verifyOAuthRequests } from './oauth-testbed.spec-helper';
import { DEFAULT_REFRESH_TOKEN_STORAGE_KEY, OAuthRefreshTokenOptions, OAuthSession, RefreshTokenStorage, withOAuthRefreshToken } from './refresh-token';

const TOKEN_URL = 'https://auth.example.com/token';
function setup(options: Partial<OAuthRefreshTokenOptions> = {}, extra: { providers?: Provider[]; features?: FreshTokenFeature[] } = {}) {
  const harness = setupOAuthTestBed(withOAuthRefreshToken({ tokenUrl: TOKEN_URL, clientId: 'spa', ...options }), extra);
  return { ...harness, session: TestBed.inject(OAuthSession) };
}

const form = (req: TestRequest) => new URLSearchParams(req.request.body as string);
const jwt = (clock: ManualClock, seconds: number) => createTestJwt({ expiresInSeconds: seconds, nowMs: clock.now() });

describe('withOAuthRefreshToken', () => {
  afterEach(() => {
    verifyOAuthRequests();
    sessionStorage.removeItem(DEFAULT_REFRESH_TOKEN_STORAGE_KEY);
  });

  it('signIn takes a token response: the access token is used at once, no token request', async () => {
    const { auth, session, clock, httpMock } = setup();
    const access = jwt(clock, 300);
    await session.signIn({ access_token: access, refresh_token: 'rt-1', expires_in: 300, token_type: 'Bearer' });
    expect(await auth.getValidToken()).toBe(access);
    expect(await session.hasRefreshToken()).toBeTrue();
    httpMock.expectNone(TOKEN_URL);
  });

  it('sends a form-encoded refresh_token grant with client_id, through no interceptor', async () => {
    const { auth, session, clock, httpMock } = setup({ scope: 'openid api' });
    await session.signIn({ refreshToken: 'rt-1', accessToken: jwt(clock, 60) });
    await clock.advance(52_000); // 8 s left: below the min validity, the caller waits for the refresh
    const token = auth.getValidToken();
    await flushMicrotasks();
    const req = httpMock.expectOne(TOKEN_URL);
    expect(req.request.method).toBe('POST');
    expect(req.request.headers.get('Content-Type')).toBe('application/x-www-form-urlencoded');
    expect(req.request.headers.has('Authorization')).toBeFalse();
    expect(Object.fromEntries(form(req))).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt-1', client_id: 'spa', scope: 'openid api' });
    const next = jwt(clock, 60);
    req.flush(JSON.stringify({ access_token: next, refresh_token: 'rt-2', expires_in: 60 }));
    expect(await token).toBe(next);
  });

  it('20 concurrent API calls at expiry share 1 refresh; the rotated token is stored before they resume and used next time', async () => {
    const log: string[] = [];
    let stored: string | null = null;
    const storage: RefreshTokenStorage = {
      get: () => stored,
      set: async (t) => {
        await Promise.resolve();
        stored = t;
        log.push(`stored:${t}`);
      },
    };
    const { session, clock, http, httpMock } = setup({ storage });
    await session.signIn({ refreshToken: 'rt-1', accessToken: jwt(clock, 60) });
    for (let round = 1; round <= 2; round++) {
      await clock.advance(61_000);
      for (let i = 0; i < 20; i++) http.get(`/api/${round}/${i}`).subscribe(() => log.push(`api-done`));
      await flushMicrotasks();
      const req = httpMock.expectOne(TOKEN_URL);
      expect(form(req).get('refresh_token')).toBe(`rt-${round}`);
      req.flush(JSON.stringify({ access_token: jwt(clock, 60), refresh_token: `rt-${round + 1}` }));
      await flushMicrotasks();
      const calls = httpMock.match((r) => r.url.startsWith(`/api/${round}/`));
      expect(calls.length).toBe(20);
      const before = log.length;
      calls.forEach((c) => c.flush({}));
      expect(log.slice(before).length).toBe(20);
      expect(log.indexOf(`stored:rt-${round + 1}`)).toBeLessThan(before);
      httpMock.expectNone(TOKEN_URL);
    }
    expect(stored as string | null).toBe('rt-3');
  });

  it('never sends a refresh token twice, even when the core gives up on a slow attempt and retries', async () => {
    const { auth, session, clock, httpMock } = setup(
      { timeoutMs: 60_000 },
      { features: [withRefreshRetry({ attemptTimeoutMs: 1_000, baseDelayMs: 100, maxDelayMs: 200, maxAttempts: 10 })] },
    );
    await session.signIn({ refreshToken: 'rt-1', accessToken: jwt(clock, 60) });
    await clock.advance(61_000);
    const token = auth.getValidToken();
    await flushMicrotasks();
    const slow = httpMock.expectOne(TOKEN_URL);
    await clock.advance(3_000); // two core attempts time out; their retries join the request in flight
    httpMock.expectNone(TOKEN_URL);
    const next = jwt(clock, 60);
    slow.flush(JSON.stringify({ access_token: next, refresh_token: 'rt-2' }));
    expect(await token).toBe(next);
    expect(await session.hasRefreshToken()).toBeTrue();
    httpMock.expectNone(TOKEN_URL);
  });

  it('invalid_grant ends the session: signed-out, session-expired, refresh token forgotten, no retry', async () => {
    const { auth, session, clock, httpMock, events } = setup();
    await session.signIn({ refreshToken: 'rt-revoked', accessToken: jwt(clock, 60) });
    let error: FreshTokenError | undefined;
    auth.refresh().catch((e) => (error = e));
    await flushMicrotasks();
    httpMock.expectOne(TOKEN_URL).flush('{"error":"invalid_grant"}', { status: 400, statusText: 'Bad Request' });
    await clock.advance(60_000);
    httpMock.expectNone(TOKEN_URL);
    expect(error?.code).toBe('NFT202');
    expect(auth.state().status).toBe('signed-out');
    expect(events.map((e) => e.type)).toEqual(['session-expired']);
    expect(await session.hasRefreshToken()).toBeFalse();
  });

  it('a 2xx that is no token answer (a captive portal, an SPA fallback) is transient: NFT302, the refresh token kept, no session-expired (attacker review)', async () => {
    const { auth, session, clock, httpMock, events } = setup({}, { features: [withRefreshRetry({ maxAttempts: 1 })] });
    await session.signIn({ refreshToken: 'rt-1', accessToken: jwt(clock, 60) });
    let error: FreshTokenError | undefined;
    auth.refresh().catch((e) => (error = e));
    await flushMicrotasks();
    httpMock.expectOne(TOKEN_URL).flush('<!doctype html><title>Sign in to the Wi-Fi</title>', { status: 200, statusText: 'OK', headers: { 'Content-Type': 'text/html' } });
    await flushMicrotasks();
    expect(error?.code).toBe(OAuthErrorCode.MalformedTokenResponse);
    expect(error?.transient).toBeTrue();
    expect(await session.hasRefreshToken()).toBeTrue();
    expect(events.map((e) => e.type)).not.toContain('session-expired');
    expect(auth.state().status).not.toBe('signed-out');
  });

  it('keeps the refresh token on a transient failure and retries it after Retry-After', async () => {
    const { auth, session, clock, httpMock } = setup();
    await session.signIn({ refreshToken: 'rt-1', accessToken: jwt(clock, 60) });
    const token = auth.refresh();
    await flushMicrotasks();
    httpMock.expectOne(TOKEN_URL).flush('', { status: 429, statusText: 'Too Many Requests', headers: { 'Retry-After': '3' } });
    await clock.advance(2_999);
    httpMock.expectNone(TOKEN_URL);
    await clock.advance(1);
    const retry = httpMock.expectOne(TOKEN_URL);
    expect(form(retry).get('refresh_token')).toBe('rt-1');
    const next = jwt(clock, 60);
    retry.flush(JSON.stringify({ access_token: next, refresh_token: 'rt-2' }));
    expect(await token).toBe(next);
  });

  it('signOut while a refresh is in flight forgets the token, and the late rotated one is not stored', async () => {
    const { auth, session, clock, httpMock } = setup();
    await session.signIn({ refreshToken: 'rt-1', accessToken: jwt(clock, 60) });
    void auth.refresh().catch(() => undefined);
    await flushMicrotasks();
    const req = httpMock.expectOne(TOKEN_URL);
    await auth.signOut();
    req.flush(JSON.stringify({ access_token: jwt(clock, 60), refresh_token: 'rt-2' }));
    await flushMicrotasks();
    expect(await session.hasRefreshToken()).toBeFalse();
    expect(auth.state().status).toBe('signed-out');
  });

  it('a sign-in without an access token fetches one with the refresh token', async () => {
    const { auth, session, clock, httpMock } = setup();
    const signedIn = session.signIn({ refreshToken: 'rt-only' });
    await flushMicrotasks();
    const next = jwt(clock, 60);
    httpMock.expectOne(TOKEN_URL).flush(JSON.stringify({ access_token: next }));
    await signedIn;
    expect(auth.state().token).toBe(next);
  });

  it('signed out without a refresh token: null and no request', async () => {
    const { auth, httpMock } = setup();
    expect(await auth.getValidToken()).toBeNull();
    httpMock.expectNone(TOKEN_URL);
  });

  it("storage 'sessionStorage' keeps the refresh token across a reload of the tab", async () => {
    const first = setup({ storage: 'sessionStorage' });
    await first.session.signIn({ refreshToken: 'rt-kept', accessToken: jwt(first.clock, 60) });
    expect(sessionStorage.getItem(DEFAULT_REFRESH_TOKEN_STORAGE_KEY)).toBe('rt-kept');
    TestBed.resetTestingModule();
    const second = setup({ storage: 'sessionStorage' }); // a new app instance, as after a reload
    const token = second.auth.getValidToken();
    await flushMicrotasks();
    const req = second.httpMock.expectOne(TOKEN_URL);
    expect(form(req).get('refresh_token')).toBe('rt-kept');
    const next = jwt(second.clock, 60);
    req.flush(JSON.stringify({ access_token: next, refresh_token: 'rt-rotated' }));
    expect(await token).toBe(next);
    expect(sessionStorage.getItem(DEFAULT_REFRESH_TOKEN_STORAGE_KEY)).toBe('rt-rotated');
  });

  it("storage 'sessionStorage' never touches sessionStorage on the server", async () => {
    const { session, clock } = setup({ storage: 'sessionStorage' }, { providers: [{ provide: PLATFORM_ID, useValue: 'server' }] });
    await session.signIn({ refreshToken: 'rt-server', accessToken: jwt(clock, 60) });
    expect(sessionStorage.getItem(DEFAULT_REFRESH_TOKEN_STORAGE_KEY)).toBeNull();
    expect(await session.hasRefreshToken()).toBeTrue();
  });

  it('rejects a sign-in without a refresh token and bad options with NFT303', async () => {
    const { session } = setup();
    await expectAsync(session.signIn({ access_token: 'a' })).toBeRejectedWith(jasmine.objectContaining({ code: OAuthErrorCode.InvalidOAuthOption }));
    expect(() => withOAuthRefreshToken({ tokenUrl: '', clientId: 'spa' })).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT303');
    expect(() => withOAuthRefreshToken({ tokenUrl: TOKEN_URL, clientId: 'spa', storage: 'localStorage' as never })).toThrowMatching(
      (e) => (e as FreshTokenError).code === 'NFT303',
    );
  });
});
