import { PlatformLocation } from '@angular/common';
import { HttpClient, HttpContext, provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { ApplicationRef, Component, PLATFORM_ID, inject, Provider, REQUEST, RESPONSE_INIT, TransferState, makeStateKey, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { Router, UrlTree, provideRouter } from '@angular/router';
import { FreshTokenTestingController, flushMicrotasks, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { AuthService } from './auth.service';
import { TRANSFER_AUTHENTICATED_RESPONSE } from './context';
import { FreshTokenError, FreshTokenErrorCode } from './errors';
import { signedInGuard } from './guard';
import { injectAuth, withApiToken } from './api-token';
import { withAuthorizedUrls, withTokenSource } from './provider';
import { createTestJwt } from 'ngx-fresh-token/testing';
import type { TokenGrant } from './token';
import { FRESH_TOKEN_CLOCK } from './clock';
import { freshTokenInterceptor } from './interceptor';
import { resolveLifetime } from './lifetime';
import type { FreshTokenFeature } from './provider';
import { FRESH_TOKEN_SERVER_SESSION, FRESH_TOKEN_SESSION_SNAPSHOT_KEY, ServerSession, SessionSnapshot, withServerRendering, ɵSERVER_HALF, ɵresetWarnings, ɵserverHalf } from './server-render';

@Component({ template: 'page' })
class Page {}

const ORIGIN = 'https://app.example.com';
const ALICE: ServerSession = { signedIn: true, user: { sub: 'alice', name: 'Alice' }, origin: ORIGIN };

interface Options {
  platform: 'server' | 'browser';
  session?: ServerSession | null;
  request?: Request | null;
  snapshot?: (nowMs: number) => SessionSnapshot;
  /** The TransferState a render left in the page (its `toJson()`), set before the service starts. */
  state?: Record<string, unknown>;
  responseInit?: ResponseInit;
  features?: FreshTokenFeature[];
}

/** The real service on the fake source and clock, as a server render or a hydrating browser sees it. */
function setup(options: Options) {
  const providers: Provider[] = [{ provide: PLATFORM_ID, useValue: options.platform }];
  // The server half, as a server build gives it (this browser build of the specs replaces ngServerMode by false).
  if (options.platform === 'server') providers.push({ provide: ɵSERVER_HALF, useValue: ɵserverHalf });
  if (options.session !== undefined) providers.push({ provide: FRESH_TOKEN_SERVER_SESSION, useValue: options.session });
  if (options.request !== undefined) providers.push({ provide: REQUEST, useValue: options.request });
  if (options.responseInit) providers.push({ provide: RESPONSE_INIT, useValue: options.responseInit });
  TestBed.configureTestingModule({
    providers: [
      provideZonelessChangeDetection(),
      ...providers,
      provideFreshTokenTesting(...(options.features ?? [withServerRendering()])),
      provideHttpClient(withInterceptors([freshTokenInterceptor])),
      provideHttpClientTesting(),
      provideRouter([
        { path: 'login', component: Page },
        { path: 'dashboard', component: Page, canActivate: [signedInGuard()] },
      ]),
    ],
  });
  const transferState = TestBed.inject(TransferState);
  const ctrl = TestBed.inject(FreshTokenTestingController);
  // What the page's ng-state holds, before the service starts.
  for (const [key, value] of Object.entries(options.state ?? {})) transferState.set(makeStateKey(key), value);
  if (options.snapshot) transferState.set(FRESH_TOKEN_SESSION_SNAPSHOT_KEY, options.snapshot(ctrl.clock.now()));
  return {
    ctrl,
    transferState,
    auth: TestBed.inject(AuthService),
    http: TestBed.inject(HttpClient),
    httpMock: TestBed.inject(HttpTestingController),
    router: TestBed.inject(Router),
  };
}

function runGuard(url = '/dashboard') {
  const guard = signedInGuard();
  return TestBed.runInInjectionContext(() => guard({} as never, { url } as never));
}

describe('server rendering and hydration', () => {
afterEach(() => TestBed.inject(HttpTestingController).verify());

describe('a server render of a signed-in session (FRESH_TOKEN_SERVER_SESSION)', () => {
  const request = new Request(`${ORIGIN}/dashboard`);

  it('is signed in before any token is fetched, shows no token, and marks the response private, no-store', () => {
    const responseInit = { status: 200, headers: new Headers({ 'Cache-Control': 'public, max-age=600' }) };
    const { auth, ctrl } = setup({ platform: 'server', session: ALICE, request, responseInit });
    expect(auth.state()).toEqual(jasmine.objectContaining({ status: 'fresh', token: null, expiresAt: null, refreshAt: null }));
    expect(auth.sessionUser()).toEqual({ sub: 'alice', name: 'Alice' });
    expect(ctrl.refreshCount).toBe(0);
    expect(responseInit.headers.get('Cache-Control')).toBe('private, no-store');
    expect(responseInit.headers.get('Vary')).toContain('Cookie');
  });

  it('sends the token to an authorized relative URL (resolved against the configured origin) but never exposes it in state, token$ or idToken', async () => {
    const { auth, ctrl, http, httpMock } = setup({ platform: 'server', session: ALICE, request });
    http.get('/api/profile').subscribe();
    await flushMicrotasks();
    const sent = httpMock.expectOne('/api/profile');
    expect(sent.request.headers.get('Authorization')).toMatch(/^Bearer ey/);
    expect(sent.request.transferCache).toBeFalse();
    sent.flush({ sub: 'alice' });
    expect(ctrl.refreshCount).toBe(1);
    expect(auth.state().status).toBe('fresh');
    expect(auth.state().token).toBeNull();
    expect(auth.state().expiresAt).toBeGreaterThan(ctrl.clock.now());
    let token: string | null | undefined;
    auth.token$.subscribe((t) => (token = t));
    expect(token).toBeNull();
    expect(auth.idToken).toBeNull();
    expect(await auth.getValidToken()).toMatch(/^ey/); // asked for explicitly: the app's own decision
  });

  it('leaves a token-free snapshot in TransferState: signed in, the token\'s times, the allowed claims', async () => {
    const { auth, ctrl, http, httpMock, transferState } = setup({ platform: 'server', session: ALICE, request });
    http.get('/api/profile').subscribe();
    await flushMicrotasks();
    const sent = httpMock.expectOne('/api/profile');
    const token = sent.request.headers.get('Authorization')!.slice('Bearer '.length);
    sent.flush({});
    const json = transferState.toJson();
    expect(json).not.toContain(token);
    expect(json).not.toContain(token.split('.')[1]);
    const snapshot = JSON.parse(json)['ngx-fresh-token:session'] as SessionSnapshot;
    expect(snapshot).toEqual({ user: { sub: 'alice', name: 'Alice' }, expiresAt: auth.state().expiresAt, refreshAt: auth.state().refreshAt });
    expect(snapshot.expiresAt).toBe(ctrl.clock.now() + ctrl.tokenLifetimeSeconds * 1000);
  });

  it('decides a relative URL as the render sends it: against the page\'s <base href>, else the page\'s URL (attacker review)', async () => {
    const { http, httpMock } = setup({ platform: 'server', session: ALICE, request, features: [withServerRendering(), withAuthorizedUrls('/api')] });
    const location = TestBed.inject(PlatformLocation);
    const baseHref = spyOn(location, 'getBaseHrefFromDOM').and.returnValue('/app/');
    spyOnProperty(location, 'href').and.returnValue(`${ORIGIN}/dashboard/x`);
    // platform-server's interceptor, after this one, sends 'api/me' to /app/api/me: not under '/api'.
    http.get('api/me').subscribe();
    http.get('/api/profile').subscribe();
    await flushMicrotasks();
    expect(httpMock.expectOne('api/me').request.headers.has('Authorization')).withContext('api/me → /app/api/me').toBeFalse();
    expect(httpMock.expectOne('/api/profile').request.headers.get('Authorization')).toMatch(/^Bearer /);
    // No <base href>: the page's URL (/dashboard/x), as document.baseURI is in the browser.
    baseHref.and.returnValue(null as unknown as string);
    http.get('api/me').subscribe();
    await flushMicrotasks();
    expect(httpMock.expectOne('api/me').request.headers.has('Authorization')).withContext('api/me → /dashboard/api/me').toBeFalse();
    // An absolute <base href> on another origin (a CDN): relative URLs go there, without the token.
    baseHref.and.returnValue('https://cdn.example.net/');
    http.get('/api/profile').subscribe();
    await flushMicrotasks();
    expect(httpMock.expectOne('/api/profile').request.headers.has('Authorization')).withContext('/api/profile → the CDN').toBeFalse();
    for (const sent of httpMock.match(() => true)) sent.flush({});
  });

  it('attaches no token when the request is for another origin than the configured one (a foreign Host)', async () => {
    const { ctrl, http, httpMock } = setup({ platform: 'server', session: ALICE, request: new Request('https://evil.example/dashboard') });
    http.get('/api/profile').subscribe();
    http.get(`${ORIGIN}/api/profile`).subscribe();
    await flushMicrotasks();
    for (const sent of httpMock.match(() => true)) {
      expect(sent.request.headers.has('Authorization')).withContext(sent.request.url).toBeFalse();
      sent.flush({});
    }
    expect(ctrl.refreshCount).toBe(0);
  });

  it('the guard renders the route without asking the source', async () => {
    const { ctrl } = setup({ platform: 'server', session: ALICE, request });
    expect(await runGuard()).toBeTrue();
    expect(ctrl.refreshCount).toBe(0);
  });
});

describe('a server render of a signed-out request', () => {
  it('redirects on the server with a private answer, sends no token, calls no source, and writes no snapshot', async () => {
    const responseInit = { status: 200, headers: new Headers({ 'Cache-Control': 'public, max-age=600' }) };
    const { auth, ctrl, http, httpMock, transferState } = setup({
      platform: 'server',
      session: { signedIn: false, user: null, origin: ORIGIN },
      request: new Request(`${ORIGIN}/dashboard`),
      responseInit,
    });
    const result = await runGuard();
    expect(result instanceof UrlTree && result.toString()).toBe('/login?returnUrl=%2Fdashboard');
    http.get('/api/public').subscribe();
    await flushMicrotasks();
    expect(httpMock.expectOne('/api/public').request.headers.has('Authorization')).toBeFalse();
    expect(ctrl.refreshCount).toBe(0);
    expect(auth.state().status).toBe('signed-out');
    expect(responseInit.headers.get('Cache-Control')).toBe('private, no-store');
    expect(JSON.parse(transferState.toJson())['ngx-fresh-token:session']).toBeUndefined();
  });
});

describe('signedInGuard() on the server without a session context', () => {
  it('renders when there is a request (the browser decides)', async () => {
    const { ctrl } = setup({ platform: 'server', request: new Request(`${ORIGIN}/dashboard`) });
    expect(await runGuard()).toBeTrue();
    expect(ctrl.refreshCount).toBe(0);
  });

  it('throws NFT108 with no request at all (a prerender): no redirect, no signed-out page in a file, no token', () => {
    const { ctrl } = setup({ platform: 'server' });
    let error: unknown;
    try {
      runGuard();
    } catch (e) {
      error = e;
    }
    expect(error instanceof FreshTokenError && error.code).toBe(FreshTokenErrorCode.GuardedRouteWithoutRequest);
    expect(ctrl.refreshCount).toBe(0);
  });
});

describe('the browser starting from a signed-in render\'s snapshot', () => {
  function fromSnapshot() {
    const testBed = setup({ platform: 'browser', snapshot: (now) => ({ user: { sub: 'alice' }, expiresAt: now + 60_000, refreshAt: now + 30_000 }) });
    return { clockNow: testBed.ctrl.clock.now(), ...testBed };
  }

  it('answers signed in at once: state fresh without a token, the user, and the guard lets the route through without a fetch', async () => {
    const { auth, ctrl, clockNow } = fromSnapshot();
    expect(auth.state()).toEqual(jasmine.objectContaining({ status: 'fresh', token: null, expiresAt: clockNow + 60_000, refreshAt: clockNow + 30_000 }));
    expect(auth.sessionUser()).toEqual({ sub: 'alice' });
    expect(await runGuard()).toBeTrue();
    expect(ctrl.refreshCount).toBe(0);
  });

  it('the first API call fetches the token, once, for any number of concurrent calls', async () => {
    const { auth, ctrl, http, httpMock } = fromSnapshot();
    for (let i = 0; i < 5; i++) http.get('/api/data').subscribe();
    await flushMicrotasks();
    const sent = httpMock.match('/api/data');
    expect(sent.length).toBe(5);
    expect(sent.every((r) => r.request.headers.get('Authorization')?.startsWith('Bearer '))).toBeTrue();
    sent.forEach((r) => r.flush({}));
    expect(ctrl.refreshCount).toBe(1);
    expect(ctrl.requests[0].forceRefresh).toBeFalse();
    expect(auth.state().token).toMatch(/^ey/);
  });

  it('moves from fresh to expiring to expired on the snapshot\'s times while no token is held, never to signed-out', async () => {
    const { auth, ctrl } = fromSnapshot();
    const seen: string[] = [];
    auth.state$.subscribe((s) => seen.push(s.status));
    await ctrl.advance(30_000);
    await ctrl.advance(30_000);
    expect(seen).toEqual(['fresh', 'expiring', 'expired']);
    expect(ctrl.refreshCount).toBe(0);
  });

  it('ends like any session: the source says signed out → signed-out, a signed-out event, the user forgotten', async () => {
    const { auth, ctrl } = fromSnapshot();
    const events: string[] = [];
    auth.events$.subscribe((e) => events.push(e.type));
    ctrl.signedInAtSource = false;
    expect(await auth.getValidToken()).toBeNull();
    expect(auth.state().status).toBe('signed-out');
    expect(auth.sessionUser()).toBeNull();
    expect(events).toEqual(['signed-out']);
  });

  it('signOut() forgets the snapshot', async () => {
    const { auth } = fromSnapshot();
    await auth.signOut();
    expect(auth.state().status).toBe('signed-out');
    expect(auth.sessionUser()).toBeNull();
  });
});

describe('TRANSFER_AUTHENTICATED_RESPONSE', () => {
  const context = () => new HttpContext().set(TRANSFER_AUTHENTICATED_RESPONSE, true);

  it('on the server puts the body (never a header, never the token) of the authenticated response into TransferState', async () => {
    const { http, httpMock, transferState } = setup({ platform: 'server', session: ALICE, request: new Request(`${ORIGIN}/`), responseInit: { headers: new Headers() } });
    http.get('/api/profile', { context: context() }).subscribe();
    http.get('/api/other').subscribe();
    await flushMicrotasks();
    const profile = httpMock.expectOne('/api/profile');
    const token = profile.request.headers.get('Authorization')!;
    profile.flush({ sub: 'alice' }, { headers: { 'X-Secret-Header': 'h' } });
    httpMock.expectOne('/api/other').flush({ other: true });
    const json = transferState.toJson();
    const state = JSON.parse(json);
    expect(state['ngx-fresh-token:bodies']).toEqual({ 'json:/api/profile': { b: { sub: 'alice' }, s: 200 } });
    expect(json).not.toContain('X-Secret-Header');
    expect(json).not.toContain(token.slice(7));
    expect(json).not.toContain('other');
  });

  it('keeps no body in a render without RESPONSE_INIT (nothing could make the page private)', async () => {
    const { http, httpMock, transferState } = setup({ platform: 'server', session: ALICE, request: new Request(`${ORIGIN}/`) });
    http.get('/api/profile', { context: context() }).subscribe();
    await flushMicrotasks();
    httpMock.expectOne('/api/profile').flush({ sub: 'alice' });
    expect(transferState.toJson()).not.toContain('ngx-fresh-token:bodies');
  });

  it('does not transfer a body that contains the token', async () => {
    const { http, httpMock, transferState } = setup({ platform: 'server', session: ALICE, request: new Request(`${ORIGIN}/`), responseInit: { headers: new Headers() } });
    http.get('/api/echo', { context: context() }).subscribe();
    await flushMicrotasks();
    const echo = httpMock.expectOne('/api/echo');
    echo.flush({ youSent: echo.request.headers.get('Authorization') });
    expect(transferState.toJson()).not.toContain('ngx-fresh-token:bodies');
  });

  it('in the browser answers the same request once from the page, without a token or a fetch', async () => {
    const { ctrl, http, httpMock } = setup({
      platform: 'browser',
      snapshot: () => ({ user: { sub: 'alice' }, expiresAt: null, refreshAt: null }),
      state: { 'ngx-fresh-token:bodies': { 'json:/api/profile': { b: { sub: 'alice' }, s: 200 } } },
    });
    let body: unknown;
    http.get('/api/profile', { context: context() }).subscribe((b) => (body = b));
    expect(body).toEqual({ sub: 'alice' });
    expect(ctrl.refreshCount).toBe(0);
    http.get('/api/profile', { context: context() }).subscribe();
    await flushMicrotasks();
    httpMock.expectOne('/api/profile').flush({ sub: 'alice' }); // the second time: fetched, with a token
    expect(ctrl.refreshCount).toBe(1);
  });
});

describe('issue #24: what a server render may keep, and for how long', () => {
  const context = () => new HttpContext().set(TRANSFER_AUTHENTICATED_RESPONSE, true);
  const SIGNED_OUT_SESSION: ServerSession = { signedIn: false, user: null, origin: ORIGIN };
  const publicHeaders = () => ({ status: 200, headers: new Headers({ 'Cache-Control': 'public, max-age=600' }) });

  it('a signed-out render with a session context adds Vary: Cookie and keeps the route\'s Cache-Control', () => {
    const responseInit = publicHeaders();
    setup({ platform: 'server', session: SIGNED_OUT_SESSION, request: new Request(`${ORIGIN}/login`), responseInit });
    expect(responseInit.headers.get('Vary') ?? '').toMatch(/(^|,)\s*cookie\s*(,|$)/i);
    expect(responseInit.headers.get('Cache-Control')).toBe('public, max-age=600');
  });

  it('the guard\'s redirect on the server is private and varies on Cookie', async () => {
    const responseInit = publicHeaders();
    setup({ platform: 'server', session: SIGNED_OUT_SESSION, request: new Request(`${ORIGIN}/dashboard`), responseInit });
    const result = await runGuard();
    expect(result instanceof UrlTree).toBeTrue();
    expect(responseInit.headers.get('Cache-Control')).toMatch(/^private\b/);
    expect(responseInit.headers.get('Vary') ?? '').toMatch(/cookie/i);
  });

  it('keeps an authenticated body only in a page it makes private, no-store: a token source without a session context', async () => {
    const responseInit = publicHeaders();
    const { http, httpMock, transferState } = setup({ platform: 'server', request: new Request(`${ORIGIN}/`), responseInit });
    http.get('/api/report', { context: context() }).subscribe();
    await flushMicrotasks();
    const sent = httpMock.expectOne('/api/report');
    expect(sent.request.headers.has('Authorization')).toBeTrue();
    sent.flush({ rows: 3 });
    expect(transferState.toJson()).toContain('rows');
    expect(responseInit.headers.get('Cache-Control')).toBe('private, no-store');
  });

  it('does not transfer a body that holds the token as JSON escapes it', async () => {
    const { ctrl, http, httpMock, transferState } = setup({ platform: 'server', session: ALICE, request: new Request(`${ORIGIN}/`), responseInit: publicHeaders() });
    const token = 'opaque"token\\with-escapes';
    ctrl.respondNextWith({ accessToken: token });
    http.get('/api/echo', { context: context() }).subscribe();
    await flushMicrotasks();
    const echo = httpMock.expectOne('/api/echo');
    expect(echo.request.headers.get('Authorization')).toBe(`Bearer ${token}`);
    echo.flush({ youSent: token });
    expect(transferState.toJson()).not.toContain('youSent');
  });

  /** What a real signed-in render of alice's dashboard leaves in the page: its TransferState, as JSON. */
  async function aliceRenderState(): Promise<Record<string, unknown>> {
    const server = setup({ platform: 'server', session: ALICE, request: new Request(`${ORIGIN}/`), responseInit: publicHeaders() });
    server.http.get('/api/profile', { context: context() }).subscribe();
    await flushMicrotasks();
    server.httpMock.expectOne('/api/profile').flush({ sub: 'alice' });
    const state = JSON.parse(server.transferState.toJson()) as Record<string, unknown>;
    server.httpMock.verify();
    TestBed.resetTestingModule();
    return state;
  }

  /** The browser hydrating alice's page: the render's TransferState in place before the service starts. */
  async function browserWithTransferredProfile() {
    const state = await aliceRenderState();
    expect(state['ngx-fresh-token:bodies']).toEqual({ 'json:/api/profile': { b: { sub: 'alice' }, s: 200 } });
    return setup({ platform: 'browser', state });
  }

  /** Asks for the profile with the opt-in; the page's copy would answer at once, a fetch goes to the testing backend. */
  function askProfile(http: HttpClient) {
    const got: { body?: unknown } = {};
    http.get('/api/profile', { context: context() }).subscribe((b) => (got.body = b));
    return got;
  }

  it('hydrating the page of that render, the profile comes from the page: no fetch, no token', async () => {
    const { ctrl, http } = await browserWithTransferredProfile();
    const got = askProfile(http);
    expect(got.body).toEqual({ sub: 'alice' });
    expect(ctrl.refreshCount).toBe(0);
  });

  it('serves transferred bodies only until the app is first stable', async () => {
    const { http, httpMock } = await browserWithTransferredProfile();
    const host = document.createElement('nft-page');
    document.body.appendChild(host);
    try {
      const appRef = TestBed.inject(ApplicationRef);
      appRef.bootstrap(Page, host);
      await appRef.whenStable();
      await flushMicrotasks();
      const got = askProfile(http);
      await flushMicrotasks();
      expect(got.body).toBeUndefined();
      httpMock.expectOne('/api/profile').flush({ sub: 'alice', fetched: true });
      expect(got.body).toEqual({ sub: 'alice', fetched: true });
    } finally {
      host.remove();
    }
  });

  const sessionChanges: Array<[string, (auth: AuthService, ctrl: FreshTokenTestingController) => unknown]> = [
    ['signOut()', (auth) => auth.signOut()],
    ['setGrant() (a new sign-in)', (auth, ctrl) => auth.setGrant({ accessToken: ctrl.createToken() })],
    ['adoption of another tab\'s token', (auth, ctrl) => (auth as unknown as { ɵadopt(life: unknown, idToken: null): void }).ɵadopt(resolveLifetime({ accessToken: ctrl.createToken() }, ctrl.clock.now(), 30_000), null)],
  ];
  for (const [what, change] of sessionChanges) {
    it(`drops transferred bodies at ${what}: a later sign-in never sees them`, async () => {
      const { auth, ctrl, http, httpMock } = await browserWithTransferredProfile();
      await change(auth, ctrl);
      await flushMicrotasks();
      const got = askProfile(http);
      await flushMicrotasks();
      expect(got.body).toBeUndefined();
      httpMock.expectOne('/api/profile').flush({ sub: 'bob' });
      expect(got.body).toEqual({ sub: 'bob' });
    });
  }

  it('a server render gives the token source one attempt of a few seconds, then renders signed in without the data', async () => {
    const { auth, ctrl, http, httpMock } = setup({ platform: 'server', session: ALICE, request: new Request(`${ORIGIN}/dashboard`) });
    ctrl.latencyMs = 60_000; // the IdP hangs
    let failed: unknown;
    http.get('/api/profile').subscribe({ error: (e) => (failed = e) });
    await ctrl.advance(3_000);
    expect(failed instanceof FreshTokenError && failed.code).toBe(FreshTokenErrorCode.RefreshTimeout);
    expect(ctrl.refreshCount).toBe(1);
    httpMock.expectNone('/api/profile');
    expect(auth.state().status).toBe('fresh');
    expect(await runGuard()).toBeTrue();
    // Later requests of the same render do not start another wait.
    http.get('/api/other').subscribe({ error: () => undefined });
    await ctrl.advance(0);
    expect(ctrl.refreshCount).toBe(1);
    httpMock.expectNone('/api/other');
  });

  it('in a masked render the service hands its held token to no internal reader either', async () => {
    const { auth, http, httpMock } = setup({ platform: 'server', session: ALICE, request: new Request(`${ORIGIN}/`) });
    http.get('/api/profile').subscribe();
    await flushMicrotasks();
    httpMock.expectOne('/api/profile').flush({});
    const held = (auth as unknown as { ɵheld: { life: { token: string } | null } }).ɵheld;
    expect(held.life).toBeNull();
  });

  describe('sessionUser follows the session', () => {
    it('a sign-in without a reload (refresh()) takes the user the source names', async () => {
      const { auth, ctrl } = setup({ platform: 'browser' });
      ctrl.respondNextWith({ accessToken: ctrl.createToken(), user: { sub: 'bob' } });
      await auth.refresh();
      expect(auth.sessionUser()).toEqual({ sub: 'bob' });
    });

    it('setGrant() of a new session clears the user the page was rendered for', () => {
      const { auth, ctrl } = setup({ platform: 'browser', snapshot: (now) => ({ user: { sub: 'alice' }, expiresAt: now + 60_000, refreshAt: now + 30_000 }) });
      auth.setGrant({ accessToken: ctrl.createToken() });
      expect(auth.sessionUser()).toBeNull();
    });

    it('the first token of the rendered session keeps the rendered user when the source names none', async () => {
      const { auth } = setup({ platform: 'browser', snapshot: (now) => ({ user: { sub: 'alice' }, expiresAt: now + 60_000, refreshAt: now + 30_000 }) });
      await auth.getValidToken();
      expect(auth.sessionUser()).toEqual({ sub: 'alice' });
    });
  });

  describe('dev-mode warnings, once each', () => {
    let warn: jasmine.Spy;
    beforeEach(() => {
      ɵresetWarnings();
      warn = spyOn(console, 'warn');
    });

    it('a render with a session context but no RESPONSE_INIT (no cache headers can be set)', () => {
      setup({ platform: 'server', session: ALICE, request: new Request(`${ORIGIN}/`) });
      TestBed.resetTestingModule();
      setup({ platform: 'server', session: ALICE, request: new Request(`${ORIGIN}/`) });
      const calls = warn.calls.allArgs().filter((args) => String(args[0]).includes('RESPONSE_INIT'));
      expect(calls.length).toBe(1);
    });

    it('a render behind a TLS proxy without trustProxyHeaders (http request, https origin): no token would ever be attached', () => {
      const responseInit = publicHeaders();
      setup({ platform: 'server', session: ALICE, request: new Request('http://app.example.com/'), responseInit });
      TestBed.inject(HttpClient);
      const calls = warn.calls.allArgs().filter((args) => String(args[0]).includes('trustProxyHeaders'));
      expect(calls.length).toBe(1);
      expect(String(calls[0][0])).not.toMatch(/eyJ/);
    });
  });
});

describe('server rendering with tokens per API (withApiToken)', () => {
  /** A named token "reports" whose source knows the render's session, as withSessionEndpoint({ api }) does. */
  function reportsToken(session: ServerSession | null, calls: Array<{ forceRefresh: boolean }>, latencyMs = 0) {
    return withApiToken(
      'reports',
      ['/reports', 'https://reports.example.com'],
      withTokenSource(
        () => {
          const clock = inject(FRESH_TOKEN_CLOCK);
          return {
            getToken: async ({ forceRefresh }): Promise<TokenGrant> => {
              calls.push({ forceRefresh });
              if (latencyMs) await new Promise<void>((resolve) => clock.setTimeout(resolve, latencyMs));
              return { accessToken: createTestJwt({ expiresInSeconds: 600, claims: { aud: 'reports' }, nowMs: clock.now() }) };
            },
          };
        },
        [withServerRendering(), { provide: FRESH_TOKEN_SERVER_SESSION, useValue: session }],
      ),
    );
  }
  const reportsAuth = () => TestBed.runInInjectionContext(() => injectAuth('reports'));
  const audOf = (header: string | null) => (header ? JSON.parse(atob(header.slice(7).split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).aud ?? 'default' : null);

  it('a render of a signed-in session resolves both tokens in process: each request its own token, neither shown, a snapshot each', async () => {
    const reportsCalls: Array<{ forceRefresh: boolean }> = [];
    const responseInit = { status: 200, headers: new Headers() };
    const { auth, ctrl, http, httpMock, transferState } = setup({
      platform: 'server',
      session: ALICE,
      request: new Request(`${ORIGIN}/dashboard`),
      responseInit,
      features: [withServerRendering(), reportsToken(ALICE, reportsCalls)],
    });
    const reports = reportsAuth();
    expect(reports.state()).toEqual(jasmine.objectContaining({ status: 'fresh', token: null }));
    http.get('/api/profile').subscribe();
    http.get('/reports/summary').subscribe();
    http.get('https://reports.example.com/x').subscribe();
    await flushMicrotasks();
    const sent = httpMock.match(() => true);
    expect(sent.map((r) => [r.request.url, audOf(r.request.headers.get('Authorization'))])).toEqual([
      ['/api/profile', 'default'],
      ['/reports/summary', 'reports'],
      ['https://reports.example.com/x', 'reports'],
    ]);
    sent.forEach((r) => r.flush({}));
    expect(ctrl.refreshCount).toBe(1);
    expect(reportsCalls.length).toBe(1);
    for (const service of [auth, reports]) {
      expect(service.state().token).toBeNull();
      let token: string | null | undefined;
      service.token$.subscribe((t) => (token = t));
      expect(token).toBeNull();
    }
    expect(responseInit.headers.get('Cache-Control')).toBe('private, no-store');
    const json = JSON.parse(transferState.toJson());
    expect(json['ngx-fresh-token:session']).toEqual(jasmine.objectContaining({ user: ALICE.user }));
    expect(json['ngx-fresh-token:session#reports']).toEqual(jasmine.objectContaining({ user: ALICE.user, expiresAt: reports.state().expiresAt }));
    for (const r of sent) expect(transferState.toJson()).not.toContain(r.request.headers.get('Authorization')!.slice(7));
  });

  it('a render whose request is for another origin sends neither token (the same Host check)', async () => {
    const reportsCalls: Array<{ forceRefresh: boolean }> = [];
    const { ctrl, http, httpMock } = setup({
      platform: 'server',
      session: ALICE,
      request: new Request('https://evil.example/dashboard'),
      features: [withServerRendering(), reportsToken(ALICE, reportsCalls)],
    });
    http.get('/api/profile').subscribe();
    http.get('/reports/summary').subscribe();
    http.get('https://reports.example.com/x').subscribe();
    await flushMicrotasks();
    for (const sent of httpMock.match(() => true)) {
      expect(sent.request.headers.has('Authorization')).withContext(sent.request.url).toBeFalse();
      sent.flush({});
    }
    expect(ctrl.refreshCount).toBe(0);
    expect(reportsCalls.length).toBe(0);
  });

  it("a named token has the render's budget: one attempt of at most 3 s, whatever its withRefreshRetry()", async () => {
    const reportsCalls: Array<{ forceRefresh: boolean }> = [];
    const { http, httpMock, ctrl } = setup({
      platform: 'server',
      session: ALICE,
      request: new Request(`${ORIGIN}/dashboard`),
      features: [withServerRendering(), reportsToken(ALICE, reportsCalls, 60_000)],
    });
    let failed: unknown;
    http.get('/reports/summary').subscribe({ error: (e) => (failed = e) });
    await ctrl.advance(3_000);
    expect(failed instanceof FreshTokenError && failed.code).toBe(FreshTokenErrorCode.RefreshTimeout);
    expect(reportsCalls.length).toBe(1);
    httpMock.expectNone('/reports/summary');
    expect(reportsAuth().state().status).toBe('fresh');
  });

  it('hydrating, each token starts from its own snapshot', () => {
    const { auth } = setup({
      platform: 'browser',
      state: {
        'ngx-fresh-token:session': { user: { sub: 'alice' }, expiresAt: null, refreshAt: null },
        'ngx-fresh-token:session#reports': { user: { sub: 'alice' }, expiresAt: Date.now() + 1e9, refreshAt: Date.now() + 1e9 - 30_000 },
      },
      features: [withServerRendering(), reportsToken(null, [])],
    });
    expect(auth.state().status).toBe('fresh');
    expect(auth.state().expiresAt).toBeNull();
    expect(reportsAuth().state().status).toBe('fresh');
    expect(reportsAuth().state().expiresAt).not.toBeNull();
    expect(reportsAuth().sessionUser()).toEqual({ sub: 'alice' });
  });
});
});
