import { HttpClient, HttpContext, HttpErrorResponse, provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, TestRequest, provideHttpClientTesting } from '@angular/common/http/testing';
import { DOCUMENT } from '@angular/common';
import { TestBed } from '@angular/core/testing';
import { SKIP_FRESH_TOKEN } from './context';
import { FreshTokenErrorCode } from './errors';
import { freshTokenInterceptor } from './interceptor';
import { FreshTokenFeature, withAuthHeader, withAuthorizedUrls, withRefreshRetry } from './provider';
import { coreTestBed, get as send } from './core-testbed.spec-helper';

const setup = (...features: FreshTokenFeature[]) => coreTestBed(features);

const bearer = (req: TestRequest) => req.request.headers.get('Authorization');
const unauthorized = { status: 401, statusText: 'Unauthorized' };

describe('freshTokenInterceptor', () => {
  afterEach(() => TestBed.inject(HttpTestingController).verify());

  it('attaches a fresh token synchronously, without asking the source', () => {
    const { http, httpMock, ctrl } = setup();
    const token = ctrl.setToken({ expiresInSeconds: 3600 });
    const out = send(http, '/api/me');
    const req = httpMock.expectOne('/api/me');
    expect(bearer(req)).toBe(`Bearer ${token}`);
    req.flush({ ok: true });
    expect(out.body).toEqual({ ok: true });
    expect(ctrl.refreshCount).toBe(0);
  });

  it('refreshes once for 50 concurrent requests below min validity and sends all 50 with the new token', async () => {
    const { http, httpMock, ctrl, auth } = setup();
    ctrl.latencyMs = 250;
    const old = ctrl.setToken({ expiresInSeconds: 8 });
    const outcomes = Array.from({ length: 50 }, (_, i) => send(http, `/api/items/${i}`));
    httpMock.expectNone(() => true); // nobody leaves with the nearly expired token
    await ctrl.advance(250);
    expect(ctrl.refreshCount).toBe(1);
    expect(ctrl.requests).toEqual([{ forceRefresh: true }]);
    const fresh = auth.state().token!;
    expect(fresh).not.toBe(old);
    const reqs = httpMock.match((r) => r.url.startsWith('/api/items/'));
    expect(reqs.length).toBe(50);
    expect(reqs.every((r) => bearer(r) === `Bearer ${fresh}`)).toBeTrue();
    reqs.forEach((r) => r.flush('ok'));
    expect(outcomes.every((o) => o.body === 'ok')).toBeTrue();
  });

  it('refreshes once for 50 concurrent 401s and retries each request exactly once', async () => {
    const { http, httpMock, ctrl, auth, events } = setup();
    const old = ctrl.setToken({ expiresInSeconds: 3600 });
    const outcomes = Array.from({ length: 50 }, (_, i) => send(http, `/api/items/${i}`));
    const first = httpMock.match((r) => r.url.startsWith('/api/items/'));
    expect(first.length).toBe(50);
    expect(first.every((r) => bearer(r) === `Bearer ${old}`)).toBeTrue();
    first.forEach((r) => r.flush('revoked', unauthorized));
    await ctrl.advance(0);
    expect(ctrl.refreshCount).toBe(1);
    const fresh = auth.state().token!;
    const retries = httpMock.match((r) => r.url.startsWith('/api/items/'));
    expect(retries.length).toBe(50);
    expect(new Set(retries.map((r) => r.request.url)).size).toBe(50);
    expect(retries.every((r) => bearer(r) === `Bearer ${fresh}`)).toBeTrue();
    retries.forEach((r) => r.flush('ok'));
    expect(outcomes.every((o) => o.done && o.body === 'ok')).toBeTrue();
    expect(events.map((e) => e.type)).toEqual(['refreshed']);
  });

  it('hands a second 401 to the caller unchanged, emits unauthorized, and makes no third attempt', async () => {
    const { http, httpMock, ctrl, events } = setup();
    ctrl.setToken();
    const out = send(http, '/api/secret');
    httpMock.expectOne('/api/secret').flush('no', unauthorized);
    await ctrl.advance(0);
    httpMock.expectOne('/api/secret').flush('still no', unauthorized);
    await ctrl.advance(0);
    httpMock.expectNone('/api/secret');
    expect(out.error).toEqual(jasmine.any(HttpErrorResponse));
    expect((out.error as HttpErrorResponse).status).toBe(401);
    expect((out.error as HttpErrorResponse).error).toBe('still no');
    expect(ctrl.refreshCount).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['refreshed', 'unauthorized']);
  });

  it('retries with the current token, without refreshing, when it changed while the request was out', async () => {
    const { http, httpMock, ctrl } = setup();
    ctrl.setToken();
    const out = send(http, '/api/slow');
    const req = httpMock.expectOne('/api/slow');
    const newer = ctrl.setToken();
    req.flush('stale', unauthorized);
    await ctrl.advance(0);
    const retry = httpMock.expectOne('/api/slow');
    expect(bearer(retry)).toBe(`Bearer ${newer}`);
    retry.flush('ok');
    expect(out.body).toBe('ok');
    expect(ctrl.refreshCount).toBe(0);
  });

  it('hands the 401 to the caller when the forced refresh ends the session', async () => {
    const { http, httpMock, ctrl, events, auth } = setup();
    ctrl.setToken();
    ctrl.failNextRefresh(new HttpErrorResponse({ status: 400, error: { error: 'invalid_grant' } }));
    const out = send(http, '/api/me');
    httpMock.expectOne('/api/me').flush('revoked', unauthorized);
    await ctrl.advance(0);
    httpMock.expectNone('/api/me');
    expect((out.error as HttpErrorResponse).status).toBe(401);
    expect(events.map((e) => e.type)).toEqual(['session-expired', 'unauthorized']);
    expect(auth.state().status).toBe('signed-out');
  });

  it('does not retry other errors', async () => {
    const { http, httpMock, ctrl } = setup();
    ctrl.setToken();
    const out = send(http, '/api/me');
    httpMock.expectOne('/api/me').flush('nope', { status: 403, statusText: 'Forbidden' });
    await ctrl.advance(0);
    httpMock.expectNone('/api/me');
    expect((out.error as HttpErrorResponse).status).toBe(403);
    expect(ctrl.refreshCount).toBe(0);
  });

  it('sends no token and does not retry when signed out', async () => {
    const { http, httpMock, ctrl } = setup();
    ctrl.signedInAtSource = false;
    const out = send(http, '/api/me');
    await ctrl.advance(0);
    const req = httpMock.expectOne('/api/me');
    expect(req.request.headers.has('Authorization')).toBeFalse();
    req.flush('who?', unauthorized);
    await ctrl.advance(0);
    httpMock.expectNone('/api/me');
    expect((out.error as HttpErrorResponse).status).toBe(401);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('fails the request with the coded error when no usable token can be had', async () => {
    const { http, httpMock, ctrl } = setup(withRefreshRetry({ maxAttempts: 1 }));
    ctrl.setToken({ expiresInSeconds: 60 });
    await ctrl.advance(61_000);
    ctrl.failNextRefresh();
    const out = send(http, '/api/me');
    await ctrl.advance(0);
    httpMock.expectNone('/api/me');
    expect(out.error).toEqual(jasmine.objectContaining({ code: FreshTokenErrorCode.RefreshFailed }));
  });

  it('leaves requests with SKIP_FRESH_TOKEN or their own Authorization header alone', async () => {
    const { http, httpMock, ctrl } = setup();
    ctrl.setToken();
    send(http, '/api/public', { context: new HttpContext().set(SKIP_FRESH_TOKEN, true) });
    send(http, '/api/basic', { headers: { Authorization: 'Basic abc' } });
    const pub = httpMock.expectOne('/api/public');
    const basic = httpMock.expectOne('/api/basic');
    expect(pub.request.headers.has('Authorization')).toBeFalse();
    expect(basic.request.headers.get('Authorization')).toBe('Basic abc');
    pub.flush('', unauthorized);
    basic.flush('', unauthorized);
    await ctrl.advance(0);
    httpMock.expectNone(() => true);
    expect(ctrl.refreshCount).toBe(0);
  });

  it('uses the header format from withAuthHeader and respects a request that sets it itself', () => {
    const { http, httpMock, ctrl } = setup(withAuthHeader((t) => ({ 'X-Api-Token': t })));
    const token = ctrl.setToken();
    send(http, '/api/a');
    send(http, '/api/b', { headers: { 'X-Api-Token': 'mine' } });
    const a = httpMock.expectOne('/api/a');
    expect(a.request.headers.get('X-Api-Token')).toBe(token);
    expect(a.request.headers.has('Authorization')).toBeFalse();
    expect(httpMock.expectOne('/api/b').request.headers.get('X-Api-Token')).toBe('mine');
    a.flush('');
  });

  describe('where the token goes', () => {
    it('by default only to the app origin', () => {
      const { http, httpMock, ctrl } = setup();
      ctrl.setToken();
      const own = `${location.origin}/api/x`;
      const others = [
        'https://api.example.com/x',
        '//evil.test/x',
        '/\\evil.test/x',
        `${location.origin}.evil.test/x`,
        `${location.protocol}//${location.host}@evil.test/x`,
        'javascript:alert(1)',
      ];
      for (const url of ['/api/x', 'relative/x', own, ...others]) send(http, url);
      for (const url of ['/api/x', 'relative/x', own]) {
        expect(httpMock.expectOne(url).request.headers.has('Authorization')).withContext(url).toBeTrue();
      }
      for (const url of others) {
        expect(httpMock.expectOne(url).request.headers.has('Authorization')).withContext(url).toBeFalse();
      }
    });

    it('with withAuthorizedUrls, only to those origins and path prefixes, matched on the parsed URL', () => {
      const { http, httpMock, ctrl } = setup(withAuthorizedUrls('https://api.example.com', 'https://files.example.com/v1'));
      ctrl.setToken();
      const allowed = ['https://api.example.com/me', 'https://API.example.com:443/me', 'https://files.example.com/v1/a', 'https://files.example.com/v1'];
      const refused = [
        'https://api.example.com.evil.test/me',
        'https://api.example.com@evil.test/me',
        '//evil.test/me',
        'http://api.example.com/me',
        'https://api.example.com:8443/me',
        'https://files.example.com/v10/a',
        'https://files.example.com/v2/a',
        'https://evil.test/?https://api.example.com/',
        '/api/me',
      ];
      for (const url of [...allowed, ...refused]) send(http, url);
      for (const url of allowed) {
        expect(httpMock.expectOne(url).request.headers.has('Authorization')).withContext(url).toBeTrue();
      }
      for (const url of refused) {
        expect(httpMock.expectOne(url).request.headers.has('Authorization')).withContext(url).toBeFalse();
      }
    });

    it('decides on the URL as it is sent: a trailing space or control character with params is part of the path (attacker review)', () => {
      const { http, httpMock, ctrl } = setup(withAuthorizedUrls('/api'));
      ctrl.setToken();
      // '/api ' alone is sent to /api (the parser trims it); with params it is '/api ?q=1', sent to /api%20.
      http.get('/api ').subscribe();
      http.get('/api ', { params: { q: '1' } }).subscribe();
      http.get('/api\u0001', { params: { q: '1' } }).subscribe();
      http.get('/api/x', { params: { q: '1' } }).subscribe();
      const sent = httpMock.match(() => true);
      const withAuth = Object.fromEntries(sent.map((r) => [JSON.stringify(r.request.urlWithParams), r.request.headers.has('Authorization')]));
      expect(withAuth).toEqual({ '"/api "': true, '"/api ?q=1"': false, '"/api\\u0001?q=1"': false, '"/api/x?q=1"': true });
      for (const r of sent) r.flush({});
    });

    it('accepts RegExp and function matchers', () => {
      const { http, httpMock, ctrl } = setup(
        withAuthorizedUrls(/^https:\/\/[a-z]+\.internal\.test\//, (url) => url.pathname.startsWith('/graphql')),
      );
      ctrl.setToken();
      for (const url of ['https://a.internal.test/x', '/graphql', 'https://a.internal.test.evil/x', '/rest']) send(http, url);
      expect(httpMock.expectOne('https://a.internal.test/x').request.headers.has('Authorization')).toBeTrue();
      expect(httpMock.expectOne('/graphql').request.headers.has('Authorization')).toBeTrue();
      expect(httpMock.expectOne('https://a.internal.test.evil/x').request.headers.has('Authorization')).toBeFalse();
      expect(httpMock.expectOne('/rest').request.headers.has('Authorization')).toBeFalse();
    });

    it('never triggers a refresh for a request it does not authorize', async () => {
      const { http, httpMock, ctrl } = setup();
      ctrl.setToken({ expiresInSeconds: 5 });
      send(http, 'https://elsewhere.test/x');
      await ctrl.advance(0);
      httpMock.expectOne('https://elsewhere.test/x').flush('', unauthorized);
      await ctrl.advance(0);
      expect(ctrl.refreshCount).toBe(0);
    });
  });

  it('throws NFT106 when used without provideFreshToken()', () => {
    TestBed.configureTestingModule({
      providers: [provideHttpClient(withInterceptors([freshTokenInterceptor])), provideHttpClientTesting()],
    });
    let error: unknown;
    TestBed.inject(HttpClient).get('/api').subscribe({ error: (e) => (error = e) });
    expect(error).toEqual(jasmine.objectContaining({ code: FreshTokenErrorCode.NotProvided }));
  });
});

describe('freshTokenInterceptor with a server DOM', () => {
  it('resolves URLs against location.href when document.baseURI is not implemented (domino)', () => {
    const serverDocument = {
      get baseURI(): string {
        throw new Error('NotYetImplemented');
      },
      location: { href: 'https://app.example.com/page' },
    };
    const { ctrl, http, httpMock } = coreTestBed([], [{ provide: DOCUMENT, useValue: serverDocument }]);
    ctrl.setToken();
    http.get('/api/me').subscribe();
    http.get('https://app.example.com/api/abs').subscribe();
    http.get('https://other.example.com/api').subscribe();
    expect(httpMock.expectOne('/api/me').request.headers.has('Authorization')).toBeTrue();
    expect(httpMock.expectOne('https://app.example.com/api/abs').request.headers.has('Authorization')).toBeTrue();
    expect(httpMock.expectOne('https://other.example.com/api').request.headers.has('Authorization')).toBeFalse();
  });
});
