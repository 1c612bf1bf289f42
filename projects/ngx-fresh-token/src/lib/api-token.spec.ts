// Tokens per API (issue #25): named tokens declared with withApiToken(), each a full AuthService of
// its own, chosen per request by URL rules (longest prefix first, then RegExp/function rules in
// declaration order), with their own 401 handling, single flight and sign-out.
import { HttpClient, HttpErrorResponse, provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, TestRequest, provideHttpClientTesting } from '@angular/common/http/testing';
import { EnvironmentInjector, createEnvironmentInjector, provideZonelessChangeDetection, runInInjectionContext } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { FreshTokenTestingController, ManualClock, createTestJwt, flushMicrotasks, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { injectAuth, withApiToken } from './api-token';
import { AuthService } from './auth.service';
import { FRESH_TOKEN_CLOCK } from './clock';
import { FreshTokenError, FreshTokenErrorCode } from './errors';
import { freshTokenInterceptor } from './interceptor';
import { FreshTokenFeature, withAuthHeader, withAuthorizedUrls, withRefreshBuffer, withTokenSource } from './provider';
import { ɵresetWarnings } from './server-render';
import type { TokenGrant, TokenSource } from './token';

/** A fake source of one named token: JWTs whose `aud` is the token's name, on the shared fake clock. */
interface FakeSource extends TokenSource {
  readonly name: string;
  calls: Array<{ forceRefresh: boolean }>;
  signOuts: number;
  latencyMs: number;
  lifetimeSeconds: number;
}

function fakeSource(name: string): FakeSource {
  const source: FakeSource = {
    name,
    calls: [],
    signOuts: 0,
    latencyMs: 0,
    lifetimeSeconds: 3600,
    getToken: async ({ forceRefresh }): Promise<TokenGrant> => {
      source.calls.push({ forceRefresh });
      const clock = TestBed.inject(FRESH_TOKEN_CLOCK) as ManualClock;
      if (source.latencyMs) await new Promise<void>((resolve) => clock.setTimeout(resolve, source.latencyMs));
      return { accessToken: createTestJwt({ expiresInSeconds: source.lifetimeSeconds, claims: { aud: name, n: source.calls.length }, nowMs: clock.now() }) };
    },
    signOut: () => {
      source.signOuts++;
    },
  };
  return source;
}

const sources = new Map<string, FakeSource>();
/** A token source feature for `name`, remembered in `sources`. */
function sourceFor(name: string): FreshTokenFeature {
  const source = fakeSource(name);
  sources.set(name, source);
  return withTokenSource(source);
}

function setup(...features: FreshTokenFeature[]) {
  TestBed.configureTestingModule({
    providers: [
      provideZonelessChangeDetection(),
      provideFreshTokenTesting(...features),
      provideHttpClient(withInterceptors([freshTokenInterceptor])),
      provideHttpClientTesting(),
    ],
  });
  return {
    ctrl: TestBed.inject(FreshTokenTestingController),
    auth: TestBed.inject(AuthService),
    http: TestBed.inject(HttpClient),
    httpMock: TestBed.inject(HttpTestingController),
    named: (name: string) => TestBed.runInInjectionContext(() => injectAuth(name)),
  };
}

/** Creates an injector with `features` beside the TestBed's (set up first): the error it threw at startup, or `null`. */
function startupError(...features: FreshTokenFeature[]): unknown {
  try {
    createEnvironmentInjector([provideFreshTokenTesting(...features)], TestBed.inject(EnvironmentInjector)).destroy();
  } catch (err) {
    return err;
  }
  return null;
}

/** The `aud` of the bearer token a request carries (`default` for the testing controller's tokens), or `null`. */
function audOf(req: TestRequest): string | null {
  const header = req.request.headers.get('Authorization');
  if (!header) return null;
  const claims = JSON.parse(atob(header.slice('Bearer '.length).split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  return claims.aud ?? 'default';
}

/** Sends `method url` and returns which token it carried (`null`: none). */
async function carried(t: ReturnType<typeof setup>, url: string, method = 'GET'): Promise<string | null> {
  t.http.request(method, url).subscribe({ error: () => undefined });
  await t.ctrl.advance(0);
  const req = t.httpMock.expectOne((r) => r.url === url && r.method === method);
  const aud = audOf(req);
  req.flush('ok');
  return aud;
}

const unauthorized = { status: 401, statusText: 'Unauthorized' };

describe('withApiToken(): tokens per API', () => {
  beforeEach(() => {
    sources.clear();
    ɵresetWarnings();
  });
  afterEach(() => TestBed.inject(HttpTestingController).verify());

  describe('URL rules', () => {
    it('the longest matching prefix wins across tokens; methods narrow a rule; a URL no rule matches gets no token', async () => {
      spyOn(console, 'warn');
      const t = setup(
        withAuthorizedUrls('/api'),
        withApiToken('reports', ['https://reports.example.com', { url: '/api/reports', methods: ['GET'] }], sourceFor('reports')),
      );
      t.ctrl.setToken();
      expect(await carried(t, '/api/orders/1')).toBe('default');
      expect(await carried(t, '/api/reports/7')).toBe('reports');
      expect(await carried(t, '/api/reports/7', 'POST')).toBe('default');
      expect(await carried(t, 'https://reports.example.com/v1/x')).toBe('reports');
      expect(await carried(t, 'https://reports.example.com.evil.test/v1/x')).toBeNull();
      expect(await carried(t, '/other')).toBeNull();
      expect(await carried(t, 'https://elsewhere.example.com/api/reports/7')).toBeNull();
    });

    it('the same-origin default belongs to the default token only, and only without withAuthorizedUrls', async () => {
      spyOn(console, 'warn');
      const withDefault = setup(withApiToken('reports', ['https://reports.example.com'], sourceFor('reports')));
      withDefault.ctrl.setToken();
      expect(await carried(withDefault, '/anything')).toBe('default');
      expect(await carried(withDefault, 'https://reports.example.com/x')).toBe('reports');
      expect(await carried(withDefault, 'https://other.example.com/x')).toBeNull();
    });

    it('a named token never gets the same-origin default: with withAuthorizedUrls, same-origin URLs outside every rule get no token', async () => {
      const t = setup(withAuthorizedUrls('https://api.example.com'), withApiToken('reports', ['https://reports.example.com'], sourceFor('reports')));
      t.ctrl.setToken();
      expect(await carried(t, '/anything')).toBeNull();
      expect(await carried(t, 'https://api.example.com/x')).toBe('default');
    });

    it('RegExp and function rules rank below every prefix rule and tie in declaration order (default token first)', async () => {
      spyOn(console, 'warn');
      const t = setup(
        withAuthorizedUrls(/^https:\/\/[a-z]+\.example\.com\//),
        withApiToken('events', [/^https:\/\/events\.example\.com\//], sourceFor('events')),
        withApiToken('reports', ['https://events.example.com/reports', (url: URL) => url.hostname === 'fn.example.org'], sourceFor('reports')),
        withApiToken('late', [(url: URL) => url.hostname === 'fn.example.org'], sourceFor('late')),
      );
      t.ctrl.setToken();
      // Both RegExps match: the default token's was declared first.
      expect(await carried(t, 'https://events.example.com/live')).toBe('default');
      // A prefix rule beats any RegExp, whatever the order.
      expect(await carried(t, 'https://events.example.com/reports/1')).toBe('reports');
      // Two functions: declaration order.
      expect(await carried(t, 'https://fn.example.org/x')).toBe('reports');
    });

    it('two tokens with the same prefix and the same methods are a startup error (NFT112) naming both', () => {
      setup();
      const error = startupError(withAuthorizedUrls('/api/reports'), withApiToken('reports', ['/api/reports/'], sourceFor('reports')));
      expect(error).toEqual(jasmine.any(FreshTokenError));
      expect((error as FreshTokenError).code).toBe(FreshTokenErrorCode.UrlRuleConflict);
      expect((error as FreshTokenError).message).toContain('"reports"');
      expect((error as FreshTokenError).message).toContain('default');
    });

    it('so are two named tokens whose method lists overlap on the same prefix; a rule with methods beside one without is fine', () => {
      setup();
      const overlap = startupError(
        withApiToken('a', [{ url: 'https://x.example.com/v1', methods: ['GET', 'POST'] }], sourceFor('a')),
        withApiToken('b', [{ url: 'https://x.example.com/v1', methods: ['post'] }], sourceFor('b')),
      );
      expect((overlap as FreshTokenError | null)?.code).toBe('NFT112');
      const fine = startupError(
        withApiToken('a', ['https://x.example.com/v1'], sourceFor('a')),
        withApiToken('b', [{ url: 'https://x.example.com/v1', methods: ['POST'] }], sourceFor('b')),
      );
      expect(fine).toBeNull();
    });

    it('disjoint methods on one prefix split the requests between the tokens', async () => {
      const t = setup(
        withAuthorizedUrls('https://api.example.com'),
        withApiToken('reads', [{ url: 'https://x.example.com/v1', methods: ['GET'] }], sourceFor('reads')),
        withApiToken('writes', [{ url: 'https://x.example.com/v1', methods: ['POST', 'PUT'] }], sourceFor('writes')),
      );
      t.ctrl.setToken();
      expect(await carried(t, 'https://x.example.com/v1/a')).toBe('reads');
      expect(await carried(t, 'https://x.example.com/v1/a', 'PUT')).toBe('writes');
      expect(await carried(t, 'https://x.example.com/v1/a', 'DELETE')).toBeNull();
    });

    it('warns once in dev mode (NFT113) when one URL matched rules of two tokens and the tie-break decided', async () => {
      const warn = spyOn(console, 'warn');
      const t = setup(withAuthorizedUrls('/api'), withApiToken('reports', ['/api/reports'], sourceFor('reports')));
      t.ctrl.setToken();
      await carried(t, '/api/reports/1');
      await carried(t, '/api/reports/2');
      await carried(t, '/api/other');
      expect(warn).toHaveBeenCalledTimes(1);
      const text = String(warn.calls.argsFor(0)[0]);
      expect(text).toContain('NFT113');
      expect(text).toContain('/api/reports/1');
      expect(text).toContain('"reports"');
      expect(text).not.toMatch(/ey[A-Za-z0-9_-]{10,}/);
    });

    it('decides once per URL: a function rule is asked once per URL however many requests go to it', async () => {
      let asked = 0;
      const t = setup(withAuthorizedUrls('https://api.example.com'), withApiToken('fn', [(url: URL) => (asked++, url.hostname === 'fn.example.com')], sourceFor('fn')));
      t.ctrl.setToken();
      for (let i = 0; i < 5; i++) expect(await carried(t, 'https://fn.example.com/same')).toBe('fn');
      expect(await carried(t, 'https://api.example.com/x')).toBe('default');
      expect(await carried(t, 'https://api.example.com/x')).toBe('default');
      expect(asked).toBe(2);
    });

    it('refuses rules it cannot read (NFT104) and names that could not be channel or key names (NFT105)', () => {
      setup();
      const source = withTokenSource(fakeSource('x'));
      expect(() => withApiToken('reports', [], source)).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT104');
      expect(() => withApiToken('reports', ['not a url'], source)).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT104');
      expect(() => withApiToken('reports', [{ url: '/api', methods: [] }], source)).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT104');
      expect(() => withApiToken('', ['/api'], source)).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT105');
      expect(() => withApiToken('a b', ['/api'], source)).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT105');
      // The rules are the second argument: withAuthorizedUrls() inside is a contradiction, as is a nested withApiToken().
      expect(() => withApiToken('r', ['/api'], source, withAuthorizedUrls('/x'))).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT105');
      expect(() => withApiToken('r', ['/api'], source, withApiToken('s', ['/s'], source))).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT105');
      // The same checks as provideFreshToken(): a source is required, each feature once.
      expect(() => withApiToken('r', ['/api'])).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT101');
      expect(() => withApiToken('r', ['/api'], source, withRefreshBuffer(1), withRefreshBuffer(2))).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT102');
    });

    it('one name twice is NFT102', () => {
      setup();
      expect(() =>
        provideFreshTokenTesting(withApiToken('r', ['https://a.example.com'], sourceFor('a')), withApiToken('r', ['https://b.example.com'], sourceFor('b'))),
      ).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT102');
    });
  });

  describe('each named token is an AuthService of its own', () => {
    it('injectAuth() is the default service, injectAuth(name) the named one; an unknown name is NFT111', () => {
      const t = setup(withApiToken('reports', ['https://reports.example.com'], sourceFor('reports')));
      const reports = t.named('reports');
      expect(reports).toEqual(jasmine.any(AuthService));
      expect(reports).not.toBe(t.auth);
      expect(t.named('reports')).toBe(reports);
      expect(TestBed.runInInjectionContext(() => injectAuth())).toBe(t.auth);
      expect(() => t.named('report')).toThrowMatching((e) => (e as FreshTokenError).code === FreshTokenErrorCode.UnknownApiToken);
    });

    it('without any withApiToken(), injectAuth(name) is NFT111 too', () => {
      setup();
      expect(() => TestBed.runInInjectionContext(() => injectAuth('reports'))).toThrowMatching((e) => (e as FreshTokenError).code === 'NFT111');
    });

    it("takes its own features and none of the default token's: buffer and header are its own", async () => {
      const t = setup(
        withRefreshBuffer(120_000),
        withAuthHeader((token) => ({ 'X-Default': token })),
        withApiToken('reports', ['https://reports.example.com'], sourceFor('reports'), withRefreshBuffer(60_000)),
      );
      sources.get('reports')!.lifetimeSeconds = 100;
      const reports = t.named('reports');
      await reports.refresh();
      // 100 s token, 60 s buffer (its own, not the default's 120 s): refresh at 50 s left (half its life), not at once.
      expect(reports.state().refreshAt! - t.ctrl.clock.now()).toBe(50_000);
      t.http.get('https://reports.example.com/x').subscribe();
      await t.ctrl.advance(0);
      const req = t.httpMock.expectOne('https://reports.example.com/x');
      expect(req.request.headers.get('Authorization')).toMatch(/^Bearer ey/);
      expect(req.request.headers.has('X-Default')).toBeFalse();
      req.flush('ok');
    });

    it('a 401 is retried once with a fresh token of the token that was attached, and only that one', async () => {
      const t = setup(withApiToken('reports', ['https://reports.example.com'], sourceFor('reports')), withApiToken('events', ['https://events.example.com'], sourceFor('events')));
      const old = t.ctrl.setToken();
      const reports = t.named('reports');
      const events = t.named('events');
      await reports.refresh();
      await events.refresh();
      const firstReports = reports.state().token;
      let body: unknown;
      t.http.get('https://reports.example.com/r').subscribe((b) => (body = b));
      await t.ctrl.advance(0);
      t.httpMock.expectOne('https://reports.example.com/r').flush('no', unauthorized);
      await t.ctrl.advance(0);
      const retry = t.httpMock.expectOne('https://reports.example.com/r');
      expect(retry.request.headers.get('Authorization')).toBe(`Bearer ${reports.state().token}`);
      expect(reports.state().token).not.toBe(firstReports);
      retry.flush('ok');
      expect(body).toBe('ok');
      expect(sources.get('reports')!.calls).toEqual([{ forceRefresh: true }, { forceRefresh: true }]);
      expect(sources.get('events')!.calls.length).toBe(1);
      expect(t.ctrl.refreshCount).toBe(0);
      expect(t.auth.state().token).toBe(old);
    });

    it("a 401 on a request with the default token refreshes the default token only: no named source is asked", async () => {
      const t = setup(withAuthorizedUrls('https://api.example.com'), withApiToken('reports', ['https://reports.example.com'], sourceFor('reports')));
      const old = t.ctrl.setToken();
      const reports = t.named('reports');
      await reports.refresh();
      const reportsToken = reports.state().token;
      let body: unknown;
      t.http.get('https://api.example.com/me').subscribe((b) => (body = b));
      await t.ctrl.advance(0);
      t.httpMock.expectOne('https://api.example.com/me').flush('no', unauthorized);
      await t.ctrl.advance(0);
      const retry = t.httpMock.expectOne('https://api.example.com/me');
      expect(retry.request.headers.get('Authorization')).toBe(`Bearer ${t.auth.state().token}`);
      expect(t.auth.state().token).not.toBe(old);
      retry.flush('ok');
      expect(body).toBe('ok');
      expect(t.ctrl.refreshCount).toBe(1);
      expect(sources.get('reports')!.calls.length).toBe(1);
      expect(reports.state().token).toBe(reportsToken);
    });

    it('a second 401 reaches the caller and emits unauthorized on the named token only', async () => {
      const t = setup(withApiToken('reports', ['https://reports.example.com'], sourceFor('reports')));
      t.ctrl.setToken();
      const reports = t.named('reports');
      const defaultEvents: string[] = [];
      const reportEvents: string[] = [];
      t.auth.events$.subscribe((e) => defaultEvents.push(e.type));
      reports.events$.subscribe((e) => reportEvents.push(e.type));
      let error: unknown;
      t.http.get('https://reports.example.com/r').subscribe({ error: (e) => (error = e) });
      await t.ctrl.advance(0);
      t.httpMock.expectOne('https://reports.example.com/r').flush('no', unauthorized);
      await t.ctrl.advance(0);
      t.httpMock.expectOne('https://reports.example.com/r').flush('no', unauthorized);
      await t.ctrl.advance(0);
      expect((error as HttpErrorResponse).status).toBe(401);
      expect(reportEvents).toEqual(['refreshed', 'refreshed', 'unauthorized']);
      expect(defaultEvents).toEqual([]);
    });

    it('1 000 concurrent requests across 3 expiring tokens: exactly one source call per token, and a slow refresh holds up no other token', async () => {
      const t = setup(
        withAuthorizedUrls('https://api.example.com'),
        withApiToken('reports', ['https://reports.example.com'], sourceFor('reports')),
        withApiToken('events', ['https://events.example.com'], sourceFor('events')),
      );
      const reports = t.named('reports');
      const events = t.named('events');
      for (const s of ['reports', 'events']) sources.get(s)!.lifetimeSeconds = 5; // below min validity at once: callers wait
      t.ctrl.tokenLifetimeSeconds = 5;
      await Promise.all([reports.refresh(), events.refresh(), t.auth.refresh()]);
      // 5 s tokens refresh at 2.5 s left, and below that requests wait for the refresh.
      await t.ctrl.advance(3_000);
      const before = { default: t.ctrl.refreshCount, reports: sources.get('reports')!.calls.length, events: sources.get('events')!.calls.length };
      t.ctrl.latencyMs = 200;
      sources.get('reports')!.latencyMs = 5_000; // within the 10 s attempt timeout
      sources.get('events')!.latencyMs = 100;
      const hosts = ['api', 'reports', 'events'];
      const done: string[] = [];
      for (let i = 0; i < 1_000; i++) {
        const host = hosts[i % 3];
        t.http.get(`https://${host}.example.com/item/${i}`).subscribe(() => done.push(host));
      }
      await t.ctrl.advance(100);
      // The events token's refresh ended while the reports one still runs: its requests left.
      const eventsReqs = t.httpMock.match((r) => r.url.startsWith('https://events.example.com/'));
      expect(eventsReqs.length).toBe(333);
      expect(eventsReqs.every((r) => audOf(r) === 'events')).toBeTrue();
      eventsReqs.forEach((r) => r.flush('ok'));
      expect(t.httpMock.match((r) => r.url.startsWith('https://reports.example.com/')).length).toBe(0);
      await t.ctrl.advance(100);
      const apiReqs = t.httpMock.match((r) => r.url.startsWith('https://api.example.com/'));
      expect(apiReqs.length).toBe(334);
      apiReqs.forEach((r) => r.flush('ok'));
      await t.ctrl.advance(5_000);
      const reportsReqs = t.httpMock.match((r) => r.url.startsWith('https://reports.example.com/'));
      expect(reportsReqs.length).toBe(333);
      expect(reportsReqs.every((r) => audOf(r) === 'reports')).toBeTrue();
      reportsReqs.forEach((r) => r.flush('ok'));
      expect(done.length).toBe(1_000);
      expect(t.ctrl.refreshCount - before.default).toBe(1);
      expect(sources.get('reports')!.calls.length - before.reports).toBe(1);
      expect(sources.get('events')!.calls.length - before.events).toBe(1);
    });

    it("the default service's signOut() ends every token and calls each source's signOut once", async () => {
      const t = setup(withApiToken('reports', ['https://reports.example.com'], sourceFor('reports')), withApiToken('events', ['https://events.example.com'], sourceFor('events')));
      t.ctrl.setToken();
      const reports = t.named('reports');
      const events = t.named('events');
      await reports.refresh();
      await events.refresh();
      const reportsEvents: string[] = [];
      reports.events$.subscribe((e) => reportsEvents.push(e.type));
      const signingOut = t.auth.signOut();
      // Dropped at once, before any source's sign-out has answered.
      expect(reports.state().status).toBe('signed-out');
      expect(events.state().status).toBe('signed-out');
      expect(t.auth.state().status).toBe('signed-out');
      await signingOut;
      expect(t.ctrl.signOutCount).toBe(1);
      expect(sources.get('reports')!.signOuts).toBe(1);
      expect(sources.get('events')!.signOuts).toBe(1);
      expect(reportsEvents).toEqual(['signed-out']);
      // Signed out for good: no token, and no source call for it.
      expect(await reports.getValidToken()).toBeNull();
    });

    it("sign-out is final for every token: a named refresh in flight when the default signOut() runs never puts its token back", async () => {
      const t = setup(withApiToken('reports', ['https://reports.example.com'], sourceFor('reports')));
      t.ctrl.setToken();
      const reports = t.named('reports');
      await reports.refresh();
      sources.get('reports')!.latencyMs = 1_000;
      const refreshing = reports.refresh();
      await t.ctrl.advance(10);
      expect(sources.get('reports')!.calls.length).toBe(2);
      await t.auth.signOut();
      await t.ctrl.advance(2_000);
      expect(await refreshing).toBeNull();
      expect(reports.state().status).toBe('signed-out');
      expect(reports.state().token).toBeNull();
      expect(await reports.getValidToken()).toBeNull();
      // A request to the reports API after it goes without a token.
      expect(await carried(t, 'https://reports.example.com/after')).toBeNull();
    });

    it("a source shared by two tokens is signed out once", async () => {
      const shared = fakeSource('shared');
      const t = setup(withApiToken('a', ['https://a.example.com'], withTokenSource(shared)), withApiToken('b', ['https://b.example.com'], withTokenSource(shared)));
      t.ctrl.setToken();
      await t.named('a').refresh();
      await t.named('b').refresh();
      await t.auth.signOut();
      expect(shared.signOuts).toBe(1);
      expect(t.named('a').state().status).toBe('signed-out');
      expect(t.named('b').state().status).toBe('signed-out');
    });

    it("a named token's signOut() ends that token only", async () => {
      const t = setup(withApiToken('reports', ['https://reports.example.com'], sourceFor('reports')), withApiToken('events', ['https://events.example.com'], sourceFor('events')));
      const token = t.ctrl.setToken();
      const reports = t.named('reports');
      const events = t.named('events');
      await reports.refresh();
      await events.refresh();
      await reports.signOut();
      expect(reports.state().status).toBe('signed-out');
      expect(events.state().status).toBe('fresh');
      expect(t.auth.state().token).toBe(token);
      expect(sources.get('reports')!.signOuts).toBe(1);
      expect(sources.get('events')!.signOuts).toBe(0);
      expect(t.ctrl.signOutCount).toBe(0);
    });

    it('a named token is destroyed with its parent injector (its streams complete)', async () => {
      setup();
      const injector = createEnvironmentInjector(
        [provideFreshTokenTesting(withApiToken('reports', ['https://reports.example.com'], sourceFor('reports')))],
        TestBed.inject(EnvironmentInjector),
      );
      const reports = runInInjectionContext(injector, () => injectAuth('reports'));
      let completed = false;
      reports.events$.subscribe({ complete: () => (completed = true) });
      injector.destroy();
      expect(completed).toBeTrue();
      await flushMicrotasks();
      expect(await reports.getValidToken()).toBeNull();
    });
  });
});
