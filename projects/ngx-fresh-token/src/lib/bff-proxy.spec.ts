// withBffProxy() (issue #26, the Angular side of the BFF's API proxy): requests for the proxied paths
// carry X-CSRF: 1 and never a token, whatever the token rules say; everything else is unchanged.
import { HttpContext, HttpHeaders } from '@angular/common/http';
import { HttpTestingController, TestRequest } from '@angular/common/http/testing';
import { PLATFORM_ID } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import fc from 'fast-check';
import { withApiToken } from './api-token';
import { withBffProxy, ɵproxyPath } from './bff-proxy';
import { SKIP_FRESH_TOKEN } from './context';
import { FreshTokenError, FreshTokenErrorCode } from './errors';
import { withAuthorizedUrls, withTokenSource } from './provider';
import { coreTestBed, get as send } from './core-testbed.spec-helper';

const bearer = (req: TestRequest) => req.request.headers.get('Authorization');
const csrf = (req: TestRequest) => req.request.headers.get('X-CSRF');
const origin = () => location.origin;

function codeOf(run: () => unknown): string | null {
  try {
    run();
  } catch (err) {
    return err instanceof FreshTokenError ? err.code : `not a FreshTokenError: ${err}`;
  }
  return null;
}

describe('withBffProxy()', () => {
  afterEach(() => TestBed.inject(HttpTestingController, null)?.verify());

  it('sends X-CSRF: 1 and no token to a proxied path, and the token elsewhere on the origin', () => {
    const { http, httpMock, ctrl } = coreTestBed([withBffProxy('/api/orders', '/api/catalog')]);
    const token = ctrl.setToken({ expiresInSeconds: 3600 });
    for (const url of ['/api/orders', '/api/orders/1?x=2', `${origin()}/api/catalog/items`]) {
      send(http, url);
      const req = httpMock.expectOne(url);
      expect(bearer(req)).withContext(url).toBeNull();
      expect(csrf(req)).withContext(url).toBe('1');
      req.flush({});
    }
    for (const url of ['/api/ordersx', '/api/me', '/api/order']) {
      send(http, url);
      const req = httpMock.expectOne(url);
      expect(bearer(req)).withContext(url).toBe(`Bearer ${token}`);
      expect(csrf(req)).withContext(url).toBeNull();
      req.flush({});
    }
    expect(ctrl.refreshCount).toBe(0);
  });

  it('ranks above withAuthorizedUrls() and withApiToken(): a proxied path never gets a token', async () => {
    const named = { getToken: async () => ({ accessToken: 'named-token' }) };
    const { http, httpMock, ctrl } = coreTestBed([
      withAuthorizedUrls('/api/orders', 'https://other.example/api'),
      withApiToken('orders', ['/api/orders/v2', { url: '/api/orders', methods: ['POST'] }], withTokenSource(named)),
      withBffProxy('/api/orders'),
    ]);
    ctrl.setToken({ expiresInSeconds: 3600 });
    for (const [method, url] of [['GET', '/api/orders/1'], ['GET', '/api/orders/v2/x'], ['POST', '/api/orders']] as const) {
      http.request(method, url).subscribe();
      const req = httpMock.expectOne(url);
      expect(bearer(req)).withContext(`${method} ${url}`).toBeNull();
      expect(csrf(req)).withContext(`${method} ${url}`).toBe('1');
      req.flush({});
    }
    // The same path on another origin is not the proxy's: the token rules decide there.
    send(http, 'https://other.example/api/orders');
    const foreign = httpMock.expectOne('https://other.example/api/orders');
    expect(csrf(foreign)).toBeNull();
    expect(bearer(foreign)).toMatch(/^Bearer /);
    foreign.flush({});
  });

  it('matches the parsed URL: dot segments are resolved before deciding', () => {
    const { http, httpMock, ctrl } = coreTestBed([withBffProxy('/api/orders')]);
    const token = ctrl.setToken({ expiresInSeconds: 3600 });
    send(http, '/api/catalog/../orders/1');
    const into = httpMock.expectOne('/api/catalog/../orders/1');
    expect([bearer(into), csrf(into)]).toEqual([null, '1']);
    into.flush({});
    send(http, '/api/orders/../admin');
    const out = httpMock.expectOne('/api/orders/../admin');
    expect([bearer(out), csrf(out)]).toEqual([`Bearer ${token}`, null]);
    out.flush({});
  });

  it('does not retry a proxied 401 nor refresh any token (the BFF has tried one new token already)', async () => {
    const { http, httpMock, ctrl, events } = coreTestBed([withBffProxy('/api/orders')]);
    ctrl.setToken({ expiresInSeconds: 3600 });
    const out = send(http, '/api/orders/1');
    httpMock.expectOne('/api/orders/1').flush({ error: 'unauthenticated' }, { status: 401, statusText: 'Unauthorized' });
    await ctrl.advance(1_000);
    httpMock.expectNone('/api/orders/1');
    expect((out.error as { status: number }).status).toBe(401);
    expect(ctrl.refreshCount).toBe(0);
    expect(events).toEqual([]);
  });

  it('leaves a proxied request with SKIP_FRESH_TOKEN or its own Authorization alone', () => {
    const { http, httpMock, ctrl } = coreTestBed([withBffProxy('/api/orders')]);
    ctrl.setToken({ expiresInSeconds: 3600 });
    http.get('/api/orders/a', { context: new HttpContext().set(SKIP_FRESH_TOKEN, true) }).subscribe();
    http.get('/api/orders/b', { headers: new HttpHeaders({ Authorization: 'Basic eA==' }) }).subscribe();
    const a = httpMock.expectOne('/api/orders/a');
    const b = httpMock.expectOne('/api/orders/b');
    expect([bearer(a), csrf(a)]).toEqual([null, null]);
    expect([bearer(b), csrf(b)]).toEqual(['Basic eA==', null]);
    a.flush({});
    b.flush({});
  });

  it('refuses a proxied request during a server render with NFT114, sending nothing', () => {
    const { http, httpMock, ctrl } = coreTestBed([withBffProxy('/api/orders')], [{ provide: PLATFORM_ID, useValue: 'server' }]);
    ctrl.setToken({ expiresInSeconds: 3600 });
    const out = send(http, '/api/orders/1');
    httpMock.expectNone('/api/orders/1');
    expect((out.error as FreshTokenError).code).toBe(FreshTokenErrorCode.ProxiedInServerRender);
  });

  it('refuses paths createBff() would not proxy with NFT115', () => {
    const bad: unknown[][] = [[], [''], ['api/orders'], ['/'], ['//evil.test/x'], ['/\\evil.test'], ['/a/../b'], ['/a/./b'], ['/a//b'], ['/a?b=1'], ['/a#b'], ['https://x.example/a'], ['/a b'], ['/ok', 42], [null]];
    for (const paths of bad) expect(codeOf(() => withBffProxy(...(paths as string[])))).withContext(JSON.stringify(paths)).toBe('NFT115');
    expect(codeOf(() => withBffProxy('/api/orders/', '/api/a:b@c'))).toBeNull();
  });

  describe('properties (fast-check)', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@-]{1,8}$/).filter((s) => s !== '.' && s !== '..');
    const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`);

    it('an accepted path is one the URL parser leaves as it is (nothing to normalize away)', () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 24 }), (raw) => {
          const p = ɵproxyPath(raw);
          if (p === null) return;
          const url = new URL(p, 'https://app.example/');
          expect(url.origin).toBe('https://app.example');
          expect(url.pathname).toBe(p);
        }),
        { numRuns: 500 },
      );
    });

    it('decides as the URL parser resolves the path: dot segments (plain or %2e-encoded), query and fragment included', () => {
      const piece = fc.oneof(segment, fc.constantFrom('.', '..', '%2e', '%2E%2e', '.%2e', 'orders', 'api', ''));
      // Often starting at or near the proxied path, where a wrong decision would matter.
      const start = fc.constantFrom('', 'api/orders/', 'api/ordersx/', 'api/', 'api/orders/../', 'api/%2e%2e/api/orders/', 'api/orders/%2e%2e/');
      const raw = fc
        .tuple(start, fc.array(piece, { maxLength: 5 }), fc.constantFrom('', '?a=1', '#f', '?x=/api/orders'))
        .map(([head, p, tail]) => `/${head}${p.join('/')}${tail}`);
      fc.assert(
        fc.property(raw, (url) => {
          TestBed.resetTestingModule();
          const { http, httpMock, ctrl } = coreTestBed([withBffProxy('/api/orders')]);
          const token = ctrl.setToken({ expiresInSeconds: 3600 });
          // The reference: the browser's URL parser ('//x/…' is another host; one that does not parse gets nothing).
          let parsed: URL | null = null;
          try {
            parsed = new URL(url, location.href);
          } catch {
            // not a URL
          }
          const ours = parsed?.origin === location.origin;
          const proxied = ours && (parsed!.pathname === '/api/orders' || parsed!.pathname.startsWith('/api/orders/'));
          send(http, url);
          const req = httpMock.expectOne((r) => r.url === url);
          expect([bearer(req), csrf(req)]).withContext(url).toEqual(proxied ? [null, '1'] : ours ? [`Bearer ${token}`, null] : [null, null]);
          req.flush({});
          httpMock.verify();
        }),
        { numRuns: 150 },
      );
    });

    it('every URL under a proxied path gets X-CSRF and no token; a sibling that only shares a prefix gets the token', () => {
      fc.assert(
        fc.property(path, fc.array(segment, { maxLength: 3 }), segment, (proxied, rest, suffix) => {
          TestBed.resetTestingModule();
          const { http, httpMock, ctrl } = coreTestBed([withBffProxy(proxied)]);
          const token = ctrl.setToken({ expiresInSeconds: 3600 });
          const under = [proxied, ...rest].join('/');
          const sibling = `${proxied}${suffix.replace(/^[.]+/, '') || 'x'}`;
          send(http, under);
          const a = httpMock.expectOne(under);
          expect([bearer(a), csrf(a)]).toEqual([null, '1']);
          a.flush({});
          send(http, sibling);
          const b = httpMock.expectOne(sibling);
          expect([bearer(b), csrf(b)]).toEqual([`Bearer ${token}`, null]);
          b.flush({});
          httpMock.verify();
        }),
        { numRuns: 60 },
      );
    });
  });
});
