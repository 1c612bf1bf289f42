import { PLATFORM_ID, Provider, REQUEST, REQUEST_CONTEXT } from '@angular/core';
import { FRESH_TOKEN_SERVER_SESSION, FreshTokenError } from 'ngx-fresh-token';
import { TestBed } from '@angular/core/testing';
import { createSessionRenderContext } from 'ngx-fresh-token/oauth/server';
import { ManualClock, createTestJwt, flushMicrotasks } from 'ngx-fresh-token/testing';
import { OAuthErrorCode } from './errors';
import { setupOAuthTestBed, verifyOAuthRequests } from './oauth-testbed.spec-helper';
import { SessionEndpointOptions, withSessionEndpoint } from './session-endpoint';

const URL = '/api/session/token';
function setup(options: Partial<SessionEndpointOptions> = {}, providers: Provider[] = []) {
  return setupOAuthTestBed(withSessionEndpoint({ url: URL, ...options }), { providers });
}

describe('withSessionEndpoint', () => {
  afterEach(verifyOAuthRequests);

  it('GETs the endpoint with cookies, bypassing the interceptor, and serves the token', async () => {
    const { auth, httpMock, clock } = setup();
    const token = auth.getValidToken();
    await flushMicrotasks();
    const req = httpMock.expectOne(URL);
    expect(req.request.method).toBe('GET');
    expect(req.request.withCredentials).toBeTrue();
    expect(req.request.headers.has('Authorization')).toBeFalse();
    req.flush(JSON.stringify({ accessToken: 'at-1', expiresAt: clock.now() + 300_000 }));
    expect(await token).toBe('at-1');
    expect(auth.state().expiresAt).toBe(clock.now() + 300_000);
  });

  it('caches the token and renews it once inside the buffer, before expiry', async () => {
    const { http, httpMock, clock } = setup();
    http.get('/api/a').subscribe();
    await flushMicrotasks();
    httpMock.expectOne(URL).flush(JSON.stringify({ accessToken: 'at-1', expiresIn: 120 }));
    await flushMicrotasks();
    httpMock.expectOne('/api/a').flush({});
    await clock.advance(80_000); // 40 s left
    http.get('/api/b').subscribe();
    httpMock.expectOne('/api/b').flush({});
    httpMock.expectNone(URL);
    await clock.advance(15_000); // 25 s left: inside the 30 s buffer, above the 10 s min validity
    http.get('/api/c').subscribe();
    // Sent at once with the current token; the one renewal runs in the background.
    expect(httpMock.expectOne('/api/c').request.headers.get('Authorization')).toBe('Bearer at-1');
    await flushMicrotasks();
    const renewal = httpMock.expectOne(URL);
    // Same-origin, so authorized by default: only bypassing the interceptor keeps the token off it.
    expect(renewal.request.headers.has('Authorization')).toBeFalse();
    renewal.flush(JSON.stringify({ accessToken: 'at-2', expiresIn: 120 }));
    await flushMicrotasks();
    http.get('/api/d').subscribe();
    expect(httpMock.expectOne('/api/d').request.headers.get('Authorization')).toBe('Bearer at-2');
  });

  it('treats 401 from the endpoint as signed out', async () => {
    const { auth, httpMock, events, clock } = setup();
    const first = auth.getValidToken();
    await flushMicrotasks();
    httpMock.expectOne(URL).flush(JSON.stringify({ accessToken: 'at-1', expiresIn: 60 }));
    await first;
    await clock.advance(52_000); // 8 s left: below the min validity, so the caller waits for the refresh
    const second = auth.getValidToken();
    await flushMicrotasks();
    httpMock.expectOne(URL).flush('{"error":"unauthenticated"}', { status: 401, statusText: 'Unauthorized' });
    expect(await second).toBeNull();
    expect(auth.state().status).toBe('signed-out');
    expect(events.map((e) => e.type)).toEqual(['refreshed', 'signed-out']);
  });

  it('retries a 503 and gives NFT302 for an answer without accessToken', async () => {
    const { auth, httpMock, clock } = setup();
    let error: FreshTokenError | undefined;
    auth.getValidToken().catch((e) => (error = e));
    await flushMicrotasks();
    httpMock.expectOne(URL).flush('', { status: 503, statusText: 'Service Unavailable' });
    await clock.advance(1_000);
    httpMock.expectOne(URL).flush('<!doctype html>');
    await flushMicrotasks();
    expect(error?.code).toBe(OAuthErrorCode.MalformedTokenResponse);
  });

  it('keeps a JWT on its own exp when only expiresIn is given', async () => {
    const { auth, httpMock, clock } = setup();
    const jwt = createTestJwt({ expiresInSeconds: 600, nowMs: clock.now() });
    const token = auth.getValidToken();
    await flushMicrotasks();
    httpMock.expectOne(URL).flush(JSON.stringify({ accessToken: jwt, expiresIn: 60, idToken: 'idt' }));
    expect(await token).toBe(jwt);
    expect(auth.state().expiresAt).toBe(clock.now() + 600_000);
    expect(auth.idToken).toBe('idt');
  });

  it('can POST, and POSTs to signOutUrl on sign-out', async () => {
    const { auth, httpMock } = setup({ method: 'POST', signOutUrl: '/api/session/logout' });
    const token = auth.getValidToken();
    await flushMicrotasks();
    const req = httpMock.expectOne(URL);
    expect(req.request.method).toBe('POST');
    req.flush(JSON.stringify({ accessToken: 'at-1' }));
    await token;
    const out = auth.signOut();
    await flushMicrotasks();
    const logout = httpMock.expectOne('/api/session/logout');
    expect(logout.request.method).toBe('POST');
    expect(logout.request.withCredentials).toBeTrue();
    logout.flush('');
    await out;
    expect(auth.state().status).toBe('signed-out');
  });

  it('answers signed out on the server without any request, so no token reaches rendered HTML', async () => {
    const { auth, httpMock } = setup({}, [{ provide: PLATFORM_ID, useValue: 'server' }]);
    expect(await auth.getValidToken()).toBeNull();
    httpMock.expectNone(URL);
  });
});

describe('withSessionEndpoint and forced refreshes', () => {
  afterEach(verifyOAuthRequests);

  it('adds X-Force-Refresh: 1 only when the core forces a refresh (buffer or 401), not on the first load', async () => {
    const { auth, httpMock, clock, http } = setup();
    void auth.getValidToken();
    await flushMicrotasks();
    const first = httpMock.expectOne(URL);
    expect(first.request.headers.has('X-Force-Refresh')).toBeFalse();
    first.flush(JSON.stringify({ accessToken: 'at-1', expiresAt: clock.now() + 120_000 }));
    await flushMicrotasks();
    await clock.advance(95_000); // 25 s left: inside the buffer
    void auth.getValidToken();
    await flushMicrotasks();
    const forced = httpMock.expectOne(URL);
    expect(forced.request.headers.get('X-Force-Refresh')).toBe('1');
    forced.flush(JSON.stringify({ accessToken: 'at-2', expiresAt: clock.now() + 120_000 }));
    await flushMicrotasks();
    http.get('/api/x').subscribe({ error: () => undefined });
    httpMock.expectOne('/api/x').flush('revoked', { status: 401, statusText: 'Unauthorized' });
    await flushMicrotasks();
    const afterUnauthorized = httpMock.expectOne(URL);
    expect(afterUnauthorized.request.headers.get('X-Force-Refresh')).toBe('1');
    afterUnauthorized.flush(JSON.stringify({ accessToken: 'at-3', expiresAt: clock.now() + 120_000 }));
    await flushMicrotasks();
    httpMock.expectOne('/api/x').flush({});
  });

  it('names the token it replaces (X-Replaces-Token: base64url SHA-256) and sends X-CSRF: 1 on every call', async () => {
    const { auth, httpMock, clock } = setup({ signOutUrl: '/api/session/logout' });
    void auth.getValidToken();
    await flushMicrotasks();
    const first = httpMock.expectOne(URL);
    expect(first.request.headers.get('X-CSRF')).toBe('1');
    expect(first.request.headers.has('X-Replaces-Token')).toBeFalse();
    first.flush(JSON.stringify({ accessToken: 'at-1', expiresAt: clock.now() + 120_000 }));
    await flushMicrotasks();
    await clock.advance(95_000); // inside the buffer: a forced refresh of at-1
    void auth.getValidToken();
    await flushMicrotasks();
    await flushMicrotasks();
    const forced = httpMock.expectOne(URL);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('at-1')));
    const expected = btoa(String.fromCharCode(...digest)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    expect(forced.request.headers.get('X-Force-Refresh')).toBe('1');
    expect(forced.request.headers.get('X-Replaces-Token')).toBe(expected);
    expect(forced.request.headers.get('X-CSRF')).toBe('1');
    forced.flush(JSON.stringify({ accessToken: 'at-2', expiresAt: clock.now() + 120_000 }));
    await flushMicrotasks();
    const signedOut = auth.signOut();
    await flushMicrotasks();
    const logout = httpMock.expectOne('/api/session/logout');
    expect(logout.request.headers.get('X-CSRF')).toBe('1');
    logout.flush('{}');
    await signedOut;
  });

  it('asks without X-Force-Refresh when refresh() runs with no token held: whatever the session has is new to this browser', async () => {
    const { auth, httpMock, clock } = setup();
    const token = auth.refresh();
    await flushMicrotasks();
    const req = httpMock.expectOne(URL);
    expect(req.request.headers.has('X-Force-Refresh')).toBeFalse();
    expect(req.request.headers.has('X-Replaces-Token')).toBeFalse();
    req.flush(JSON.stringify({ accessToken: 'at-1', expiresAt: clock.now() + 120_000 }));
    expect(await token).toBe('at-1');
  });
});

describe('withSessionEndpoint in a server render with a render context (REQUEST_CONTEXT)', () => {
  afterEach(verifyOAuthRequests);

  function renderSetup(user: Record<string, unknown> | null, calls: Array<{ forceRefresh: boolean; currentToken?: string | null }>) {
    const context = createSessionRenderContext({
      origin: 'https://app.example.com/auth/callback',
      user,
      getToken: async (request) => {
        calls.push(request);
        return { accessToken: createTestJwt({ expiresInSeconds: 300, claims: { n: calls.length } }) };
      },
    });
    return setup({}, [
      { provide: PLATFORM_ID, useValue: 'server' },
      { provide: REQUEST, useValue: new Request('https://app.example.com/') },
      { provide: REQUEST_CONTEXT, useValue: { ...context, other: 'app data' } },
    ]);
  }

  it('gets tokens in process (no HTTP to the endpoint), forced refreshes naming the token they replace', async () => {
    const calls: Array<{ forceRefresh: boolean; currentToken?: string | null }> = [];
    const { auth, httpMock } = renderSetup({ sub: 'alice' }, calls);
    expect(TestBed.inject(FRESH_TOKEN_SERVER_SESSION)).toEqual({ signedIn: true, user: { sub: 'alice' }, origin: 'https://app.example.com' });
    const first = await auth.getValidToken();
    expect(first).toMatch(/^ey/);
    const second = await auth.refresh();
    expect(second).not.toBe(first);
    expect(calls).toEqual([
      { forceRefresh: false, currentToken: null },
      { forceRefresh: true, currentToken: first },
    ]);
    httpMock.expectNone(URL);
  });

  it('a signed-out render context: signed out at once, the token function never called', async () => {
    const calls: Array<{ forceRefresh: boolean }> = [];
    const { auth, httpMock } = renderSetup(null, calls);
    expect(TestBed.inject(FRESH_TOKEN_SERVER_SESSION)?.signedIn).toBeFalse();
    expect(await auth.getValidToken()).toBeNull();
    expect(calls.length).toBe(0);
    httpMock.expectNone(URL);
  });

  it('ignores a REQUEST_CONTEXT without a well-formed render context (answers signed out, provides no session)', async () => {
    const { auth, httpMock } = setup({}, [
      { provide: PLATFORM_ID, useValue: 'server' },
      { provide: REQUEST_CONTEXT, useValue: { freshToken: { getToken: 'nope', origin: 'x' } } },
    ]);
    expect(TestBed.inject(FRESH_TOKEN_SERVER_SESSION)).toBeNull();
    expect(await auth.getValidToken()).toBeNull();
    httpMock.expectNone(URL);
  });
});

describe('withSessionEndpoint: only the server\'s verdict ends the server session (#24)', () => {
  afterEach(verifyOAuthRequests);
  const LOGOUT = '/api/session/logout';

  /** Loads at-1, then lets the next (forced) call answer with `answer`; resolves the outcome. */
  async function heldThenAnswered(answer: (req: ReturnType<ReturnType<typeof setup>['httpMock']['expectOne']>, now: number) => void) {
    const testBed = setup({ signOutUrl: LOGOUT });
    const { auth, httpMock, clock } = testBed;
    void auth.getValidToken();
    await flushMicrotasks();
    httpMock.expectOne(URL).flush(JSON.stringify({ accessToken: 'at-1', expiresIn: 60 }));
    await flushMicrotasks();
    await clock.advance(55_000); // 5 s left: callers wait for the refresh
    let error: unknown;
    const token = auth.getValidToken().catch((e) => ((error = e), undefined));
    await flushMicrotasks();
    await flushMicrotasks();
    answer(httpMock.expectOne(URL), clock.now());
    await clock.advance(0);
    await flushMicrotasks();
    return { ...testBed, token: await token, error };
  }

  const garbled: Array<[string, (req: ReturnType<ReturnType<typeof setup>['httpMock']['expectOne']>, now: number) => void, string]> = [
    ['a 200 that is not JSON (a captive portal, the SPA fallback)', (req) => req.flush('<!doctype html><html>app</html>'), OAuthErrorCode.MalformedTokenResponse],
    ['a 200 JSON that is not a grant', (req) => req.flush('{"hello":"world"}'), OAuthErrorCode.MalformedTokenResponse],
    ['a 403 from a firewall', (req) => req.flush('<h1>Forbidden</h1>', { status: 403, statusText: 'Forbidden' }), 'NFT202'],
    ['an opaque token that expired on arrival', (req, now) => req.flush(JSON.stringify({ accessToken: 'at-2', expiresAt: now - 1_000 })), 'NFT205'],
    ['a configuration error of the server (NFT410, HTTP 500)', (req) => req.flush('{"error":"server_error","code":"NFT410"}', { status: 500, statusText: 'Internal Server Error' }), 'NFT410'],
  ];
  for (const [what, answer, code] of garbled) {
    it(`${what}: drops the token here, reports ${code}, and never POSTs the sign-out URL`, async () => {
      const { auth, httpMock, events, token, error } = await heldThenAnswered(answer);
      expect(token).toBeUndefined();
      expect((error as FreshTokenError).code).toBe(code);
      expect(auth.state().status).toBe('signed-out');
      expect(events.map((e) => e.type)).toEqual(['refreshed', 'session-expired']);
      expect(events[1].error?.code).toBe(code);
      httpMock.expectNone(LOGOUT);
      httpMock.expectNone(URL); // not retried either
    });
  }

  it('the endpoint\'s own 401 signs out here without a sign-out request (the server already ended it)', async () => {
    const { auth, httpMock, token } = await heldThenAnswered((req) => req.flush('{"error":"unauthenticated"}', { status: 401, statusText: 'Unauthorized' }));
    expect(token).toBeNull();
    expect(auth.state().status).toBe('signed-out');
    httpMock.expectNone(LOGOUT);
  });

  it('uses expiresIn on the local clock for an opaque token, even when expiresAt says otherwise (a device clock that runs ahead)', async () => {
    const { auth, httpMock, clock } = setup();
    const token = auth.getValidToken();
    await flushMicrotasks();
    // The server's clock is 10 minutes behind this device's: its expiresAt is already past here.
    httpMock.expectOne(URL).flush(JSON.stringify({ accessToken: 'opaque-1', expiresAt: clock.now() - 300_000, expiresIn: 300 }));
    expect(await token).toBe('opaque-1');
    expect(auth.state().expiresAt).toBe(clock.now() + 300_000);
  });
});

describe('withSessionEndpoint dev-mode warnings (#24)', () => {
  afterEach(verifyOAuthRequests);

  it('warns once when REQUEST_CONTEXT is a Promise (a forgotten await on bff.renderContext())', async () => {
    const warn = spyOn(console, 'warn');
    const context = Promise.resolve(createSessionRenderContext({ origin: 'https://app.example.com', user: { sub: 'alice' }, getToken: async () => null }));
    for (let i = 0; i < 2; i++) {
      TestBed.resetTestingModule();
      const { auth } = setup({}, [
        { provide: PLATFORM_ID, useValue: 'server' },
        { provide: REQUEST, useValue: new Request('https://app.example.com/') },
        { provide: REQUEST_CONTEXT, useValue: context },
      ]);
      expect(await auth.getValidToken()).toBeNull();
    }
    const calls = warn.calls.allArgs().filter((args) => /await/.test(String(args[0])) && /renderContext/.test(String(args[0])));
    expect(calls.length).toBe(1);
  });

  it('the render context\'s opaque token with expiresIn is timed on the local clock', async () => {
    const now = Date.UTC(2026, 0, 1, 12);
    const context = createSessionRenderContext({
      origin: 'https://app.example.com',
      user: { sub: 'alice' },
      getToken: async () => ({ accessToken: 'opaque-render', expiresAt: now - 60_000, expiresIn: 120 }),
    });
    const { auth, clock } = setup({}, [
      { provide: PLATFORM_ID, useValue: 'server' },
      { provide: REQUEST, useValue: new Request('https://app.example.com/') },
      { provide: REQUEST_CONTEXT, useValue: context },
    ]);
    expect(await auth.getValidToken()).toBe('opaque-render');
    expect(auth.state().expiresAt).toBe(clock.now() + 120_000);
  });

  describe('a named API of the BFF ({ api }: /session/token?api=)', () => {
    it('asks the endpoint for that API\'s token with ?api=, and defaults url to createBff\'s /session/token', async () => {
      const { auth, httpMock, clock } = setupOAuthTestBed(withSessionEndpoint({ api: 'reports' }));
      const token = auth.getValidToken();
      await flushMicrotasks();
      const req = httpMock.expectOne('/session/token?api=reports');
      expect(req.request.headers.get('X-CSRF')).toBe('1');
      req.flush(JSON.stringify({ accessToken: 'at-reports', expiresAt: clock.now() + 300_000 }));
      expect(await token).toBe('at-reports');
    });

    it('keeps a query the url has, and encodes the name', async () => {
      const { auth, httpMock } = setupOAuthTestBed(withSessionEndpoint({ url: '/bff/session/token?v=2', api: 'partner v1' }));
      const token = auth.getValidToken();
      await flushMicrotasks();
      httpMock.expectOne('/bff/session/token?v=2&api=partner%20v1').flush(JSON.stringify({ accessToken: 'at-p', expiresIn: 300 }));
      expect(await token).toBe('at-p');
    });

    it('refuses an api that is not a non-empty string (NFT303)', () => {
      expect(() => withSessionEndpoint({ api: '' })).toThrowMatching((e) => (e as FreshTokenError).code === OAuthErrorCode.InvalidOAuthOption);
    });

    it('in a server render asks the render context for that API\'s token', async () => {
      const calls: Array<{ forceRefresh: boolean; currentToken?: string | null; api?: string }> = [];
      const context = createSessionRenderContext({
        origin: 'https://app.example.com',
        user: { sub: 'alice' },
        getToken: async (request) => {
          calls.push(request);
          return { accessToken: createTestJwt({ expiresInSeconds: 300 }) };
        },
      });
      const { auth, httpMock } = setupOAuthTestBed(withSessionEndpoint({ api: 'reports' }), {
        providers: [
          { provide: PLATFORM_ID, useValue: 'server' },
          { provide: REQUEST, useValue: new Request('https://app.example.com/') },
          { provide: REQUEST_CONTEXT, useValue: context },
        ],
      });
      await auth.getValidToken();
      expect(calls).toEqual([{ forceRefresh: false, currentToken: null, api: 'reports' }]);
      httpMock.expectNone(() => true);
    });
  });
});
