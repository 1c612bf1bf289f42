// Regression specs for the defects found by the hostile-input run (issue #10): sign-out races,
// cool-down, timer overflow, the state signal in reactive contexts, transfer-state leaks,
// destroy, token validation, the default origin and malformed JWT payloads.
import { DOCUMENT } from '@angular/common';
import { HttpClient, HttpErrorResponse, HttpHeaders, provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import {
  Component,
  EnvironmentInjector,
  PLATFORM_ID,
  computed,
  createEnvironmentInjector,
  inject,
  provideZonelessChangeDetection,
} from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { ɵwithHttpTransferCache } from '@angular/common/http';
import { FreshTokenTestingController, ManualClock, createTestJwt, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { AuthService } from './auth.service';
import { FRESH_TOKEN_CLOCK, FreshTokenClock } from './clock';
import { FreshTokenError, FreshTokenErrorCode } from './errors';
import { freshTokenInterceptor } from './interceptor';
import { readJwtTimes } from './lifetime';
import { FreshTokenFeature, provideFreshToken, withAuthHeader, withRefreshRetry, withTokenSource } from './provider';
import type { TokenGrant, TokenSource } from './token';
import { coreTestBed, get, track } from './core-testbed.spec-helper';

const setup = (...features: FreshTokenFeature[]) => coreTestBed(features);

const unauthorized = { status: 401, statusText: 'Unauthorized' };
const tooMany = (retryAfter: string) =>
  new HttpErrorResponse({ status: 429, statusText: 'Too Many Requests', headers: new HttpHeaders({ 'Retry-After': retryAfter }) });

describe('hardening', () => {
  describe('sign-out is final (item 1)', () => {
    it('a 401 for a request sent before signOut() starts no refresh and reaches the caller as is', async () => {
      const { auth, ctrl, http, httpMock, events } = setup();
      ctrl.setToken();
      const out = get(http, '/api/me');
      const req = httpMock.expectOne('/api/me');
      const signingOut = auth.signOut();
      req.flush('nope', unauthorized);
      await signingOut;
      await ctrl.advance(1_000);
      httpMock.expectNone('/api/me');
      expect(ctrl.refreshCount).toBe(0);
      expect((out.error as HttpErrorResponse).status).toBe(401);
      expect(auth.state().status).toBe('signed-out');
      expect(auth.state().token).toBeNull();
      expect(events.map((e) => e.type)).not.toContain('refreshed');
    });

    it('with a slow source sign-out, the late 401 still puts no token back', async () => {
      let finishSignOut!: () => void;
      const source: TokenSource = {
        getToken: async () => ({ accessToken: createTestJwt({ expiresInSeconds: 600 }) }),
        signOut: () => new Promise<void>((resolve) => (finishSignOut = resolve)),
      };
      TestBed.configureTestingModule({
        providers: [
          provideZonelessChangeDetection(),
          provideFreshToken(withTokenSource(source)),
          provideHttpClient(withInterceptors([freshTokenInterceptor])),
          provideHttpClientTesting(),
        ],
      });
      const auth = TestBed.inject(AuthService);
      const http = TestBed.inject(HttpClient);
      const httpMock = TestBed.inject(HttpTestingController);
      const getToken = spyOn(source, 'getToken').and.callThrough();
      await auth.refresh();
      getToken.calls.reset();
      const out = get(http, '/api/me');
      await Promise.resolve();
      const req = httpMock.expectOne('/api/me');
      const signingOut = auth.signOut();
      req.flush('nope', unauthorized);
      await new Promise((r) => setTimeout(r, 0));
      finishSignOut();
      await signingOut;
      expect(getToken).not.toHaveBeenCalled();
      expect((out.error as HttpErrorResponse).status).toBe(401);
      expect(auth.state().status).toBe('signed-out');
      // The next call after sign-out goes without a token.
      get(http, '/api/next');
      expect(httpMock.expectOne('/api/next').request.headers.has('Authorization')).toBeFalse();
    });

    it('a 401 for a request of the previous session is not retried with the next session’s token', async () => {
      const { auth, ctrl, http, httpMock } = setup();
      ctrl.setToken();
      const out = get(http, '/api/me');
      const req = httpMock.expectOne('/api/me');
      await auth.signOut();
      ctrl.setToken(); // another user signs in
      req.flush('nope', unauthorized);
      await ctrl.advance(0);
      httpMock.expectNone('/api/me');
      expect((out.error as HttpErrorResponse).status).toBe(401);
      expect(ctrl.refreshCount).toBe(0);
    });

    it('a refresh in flight at signOut() is stopped: no retry after it, and its answer is dropped', async () => {
      const { auth, ctrl } = setup(withRefreshRetry({ maxAttempts: 4 }));
      ctrl.setToken({ expiresInSeconds: 10 });
      ctrl.failNextRefresh(undefined, 1);
      const call = track(auth.getValidToken());
      await ctrl.advance(0);
      expect(ctrl.refreshCount).toBe(1);
      await auth.signOut();
      await ctrl.advance(120_000);
      expect(ctrl.refreshCount).toBe(1);
      expect(call.value).toBeNull();
      expect(auth.state().status).toBe('signed-out');
      expect(ctrl.clock.pendingTimers).toBe(0);
    });
  });

  describe('cool-down (item 2)', () => {
    it('Retry-After beyond the retry budget: no source call before it has passed, whoever asks', async () => {
      const { auth, ctrl } = setup();
      ctrl.setToken({ expiresInSeconds: 25 });
      ctrl.failNextRefresh(tooMany('3600'));
      expect(await auth.getValidToken()).toBe(auth.state().token!); // still valid: used
      expect(ctrl.refreshCount).toBe(1);
      // 10 requests a second for a minute.
      for (let i = 0; i < 600; i++) {
        await auth.getValidToken().catch(() => null);
        if (i % 10 === 9) await ctrl.advance(1_000);
      }
      expect(ctrl.refreshCount).toBe(1);
      // Expired now: fail fast with NFT201 and the time left, without calling the source.
      const err = await auth.getValidToken().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toEqual(jasmine.any(FreshTokenError));
      expect((err as FreshTokenError).code).toBe(FreshTokenErrorCode.RefreshFailed);
      expect((err as FreshTokenError).retryAfterMs).toBeGreaterThan(3_600_000 - 61_000);
      expect((err as FreshTokenError).retryAfterMs).toBeLessThanOrEqual(3_600_000 - 60_000);
      expect(ctrl.refreshCount).toBe(1);
      await ctrl.advance(3_600_000);
      expect(await auth.getValidToken()).toBeTruthy();
      expect(ctrl.refreshCount).toBe(2);
    });

    it('after a failed cycle the next one waits for the next backoff delay', async () => {
      const { auth, ctrl } = setup(withRefreshRetry({ maxAttempts: 2, baseDelayMs: 1_000, maxDelayMs: 60_000 }));
      ctrl.failNextRefresh(undefined, 10);
      const first = track(auth.getValidToken());
      await ctrl.advance(1_000); // retry 1 waits 500–1000 ms
      expect(first.settled).toBeTrue();
      expect(ctrl.refreshCount).toBe(2);
      // Back to back: fail fast, nothing called.
      for (let i = 0; i < 20; i++) await auth.getValidToken().catch(() => null);
      await ctrl.advance(5);
      expect(ctrl.refreshCount).toBe(2);
      // Next delay on the curve (retry 2: 1–2 s) has surely passed after 2 s.
      await ctrl.advance(2_000);
      track(auth.getValidToken());
      await ctrl.advance(0);
      expect(ctrl.refreshCount).toBe(3);
    });

    it('a 401 during the cool-down reaches the caller without a source call', async () => {
      const { ctrl, http, httpMock } = setup(withRefreshRetry({ maxAttempts: 1 }));
      ctrl.setToken({ expiresInSeconds: 20 });
      ctrl.failNextRefresh(tooMany('600'));
      get(http, '/api/a');
      await ctrl.advance(0);
      httpMock.expectOne('/api/a').flush('ok');
      expect(ctrl.refreshCount).toBe(1);
      const out = get(http, '/api/b');
      await ctrl.advance(0);
      httpMock.expectOne('/api/b').flush('no', unauthorized);
      await ctrl.advance(0);
      httpMock.expectNone('/api/b');
      expect((out.error as HttpErrorResponse).status).toBe(401);
      expect(ctrl.refreshCount).toBe(1);
    });

    it('an explicit refresh() ignores the cool-down', async () => {
      const { auth, ctrl } = setup();
      ctrl.failNextRefresh(tooMany('3600'));
      await auth.getValidToken().catch(() => null);
      expect(ctrl.refreshCount).toBe(1);
      await expectAsync(auth.getValidToken()).toBeRejectedWith(jasmine.objectContaining({ code: 'NFT201' }));
      expect(ctrl.refreshCount).toBe(1);
      expect(await auth.refresh()).toBeTruthy();
      expect(ctrl.refreshCount).toBe(2);
    });
  });

  describe('long-lived tokens (item 3)', () => {
    function recordingClock(): { clock: FreshTokenClock; delays: number[] } {
      const manual = new ManualClock();
      const delays: number[] = [];
      return {
        delays,
        clock: {
          now: () => manual.now(),
          setTimeout: (cb, ms) => {
            delays.push(ms);
            return manual.setTimeout(cb, ms);
          },
          clearTimeout: (h) => manual.clearTimeout(h),
        },
      };
    }

    for (const [label, grant] of [
      ['a 60-day JWT', (now: number) => ({ accessToken: createTestJwt({ expiresInSeconds: 60 * 86_400, nowMs: now }) })],
      ['an exp written in ms', (now: number) => ({ accessToken: createTestJwt({ nowMs: now, claims: { exp: now + 3_600_000 } }) })],
      ['expiresAt a year ahead', (now: number) => ({ accessToken: 'opaque', expiresAt: now + 365 * 86_400_000 })],
    ] as const) {
      it(`never asks for a timer longer than 2^31 − 1 ms (${label})`, async () => {
        const { clock, delays } = recordingClock();
        TestBed.configureTestingModule({
          providers: [
            provideZonelessChangeDetection(),
            { provide: FRESH_TOKEN_CLOCK, useValue: clock },
            provideFreshToken(withTokenSource({ getToken: async () => grant(clock.now()) })),
          ],
        });
        const auth = TestBed.inject(AuthService);
        await auth.getValidToken();
        const states: string[] = [];
        const sub = auth.state$.subscribe((s) => states.push(s.status));
        expect(delays.length).toBeGreaterThan(0);
        expect(Math.max(...delays)).toBeLessThanOrEqual(2 ** 31 - 1);
        expect(states).toEqual(['fresh']);
        sub.unsubscribe();
      });
    }
  });

  describe('the state signal (item 4)', () => {
    it('can be read first inside computed()', () => {
      const { auth, ctrl } = setup();
      ctrl.setToken();
      const status = computed(() => auth.state().status);
      expect(status()).toBe('fresh');
    });

    it('can be read first in a template', async () => {
      @Component({ selector: 'nft-status', template: `<p>{{ auth.state().status }}</p>` })
      class StatusComponent {
        readonly auth = inject(AuthService);
      }
      const { ctrl } = setup();
      ctrl.setToken();
      const fixture = TestBed.createComponent(StatusComponent);
      await fixture.whenStable();
      expect(fixture.nativeElement.textContent.trim()).toBe('fresh');
    });

    it('can be read first inside computed() on the server platform', () => {
      TestBed.configureTestingModule({
        providers: [provideZonelessChangeDetection(), { provide: PLATFORM_ID, useValue: 'server' }, provideFreshTokenTesting()],
      });
      TestBed.inject(FreshTokenTestingController).setToken();
      const auth = TestBed.inject(AuthService);
      expect(computed(() => auth.state().status)()).toBe('fresh');
    });
  });

  describe('transfer state (item 5)', () => {
    // Angular's transfer cache stores a server response unless the request has `transferCache: false`
    // or an Authorization/Proxy-Authorization/Cookie header; a custom token header is not among them.
    it('marks every request that carries the token, whatever its header, as not for the transfer cache', () => {
      TestBed.configureTestingModule({
        providers: [
          provideZonelessChangeDetection(),
          { provide: PLATFORM_ID, useValue: 'server' },
          provideFreshTokenTesting(withAuthHeader((t) => ({ 'X-Api-Token': t }))),
          provideHttpClient(withInterceptors([freshTokenInterceptor])),
          ɵwithHttpTransferCache({}),
          provideHttpClientTesting(),
        ],
      });
      const ctrl = TestBed.inject(FreshTokenTestingController);
      const token = ctrl.setToken();
      const http = TestBed.inject(HttpClient);
      const httpMock = TestBed.inject(HttpTestingController);
      http.get('/api/secret').subscribe();
      const secret = httpMock.expectOne('/api/secret');
      expect(secret.request.headers.get('X-Api-Token')).toBe(token);
      expect(secret.request.transferCache).toBeFalse();
      secret.flush({});
      // A request without the token keeps whatever caching the app chose.
      ctrl.clearToken();
      http.get('/api/public').subscribe();
      const open = httpMock.expectOne('/api/public');
      expect(open.request.headers.has('X-Api-Token')).toBeFalse();
      expect(open.request.transferCache).toBeUndefined();
      open.flush({});
    });

    it('also marks the retry after a 401', async () => {
      const { ctrl, http, httpMock } = setup(withAuthHeader((t) => ({ 'X-Api-Token': t })));
      ctrl.setToken();
      http.get('/api/x').subscribe({ error: () => undefined });
      httpMock.expectOne('/api/x').flush('no', unauthorized);
      await ctrl.advance(0);
      const retry = httpMock.expectOne('/api/x');
      expect(retry.request.transferCache).toBeFalse();
      retry.flush({});
    });
  });

  describe('destroy (item 8)', () => {
    function childInjector(source: TokenSource, ...features: FreshTokenFeature[]) {
      TestBed.configureTestingModule({ providers: [{ provide: FRESH_TOKEN_CLOCK, useValue: new ManualClock() }] });
      const parent = TestBed.inject(EnvironmentInjector);
      const injector = createEnvironmentInjector([provideFreshToken(withTokenSource(source), ...features)], parent);
      return { injector, auth: injector.get(AuthService), clock: TestBed.inject(FRESH_TOKEN_CLOCK) as ManualClock };
    }

    it('with a failing source: no source call after destroy, no timer left', async () => {
      let calls = 0;
      const { injector, auth, clock } = childInjector({
        getToken: () => {
          calls++;
          return Promise.reject(new HttpErrorResponse({ status: 503 }));
        },
      });
      void auth.getValidToken().catch(() => null);
      await clock.advance(0);
      expect(calls).toBe(1);
      injector.destroy();
      await clock.advance(120_000);
      expect(calls).toBe(1);
      expect(clock.pendingTimers).toBe(0);
    });

    it('with a hanging source: the attempt timer is cleared at once', async () => {
      const { injector, auth, clock } = childInjector({ getToken: () => new Promise<TokenGrant>(() => undefined) });
      void auth.getValidToken().catch(() => null);
      await clock.advance(0);
      expect(clock.pendingTimers).toBe(1);
      injector.destroy();
      expect(clock.pendingTimers).toBe(0);
    });

    it('completes state$, token$, expiresIn$ and events$', async () => {
      const { injector, auth, clock } = childInjector({ getToken: async () => ({ accessToken: createTestJwt({ expiresInSeconds: 600, nowMs: Date.now() }) }) });
      await auth.getValidToken();
      const completed: string[] = [];
      auth.state$.subscribe({ complete: () => completed.push('state$') });
      auth.token$.subscribe({ complete: () => completed.push('token$') });
      auth.expiresIn$.subscribe({ complete: () => completed.push('expiresIn$') });
      auth.events$.subscribe({ complete: () => completed.push('events$') });
      expect(clock.pendingTimers).toBeGreaterThan(0);
      injector.destroy();
      expect(completed.sort()).toEqual(['events$', 'expiresIn$', 'state$', 'token$']);
      expect(clock.pendingTimers).toBe(0);
    });

    it('after destroy getValidToken() answers null and state() is a signed-out TokenState, whether read before or after', async () => {
      const source = { getToken: async () => ({ accessToken: createTestJwt({ expiresInSeconds: 600, nowMs: Date.now() }) }) };
      const readBefore = childInjector(source);
      expect(await readBefore.auth.getValidToken()).toMatch(/^ey/);
      expect(readBefore.auth.state().status).toBe('fresh');
      readBefore.injector.destroy();
      expect(await readBefore.auth.getValidToken()).toBeNull();
      expect(readBefore.auth.state()).toEqual(jasmine.objectContaining({ status: 'signed-out', token: null }));
      TestBed.resetTestingModule();
      const readAfter = childInjector(source);
      await readAfter.auth.getValidToken();
      readAfter.injector.destroy();
      expect(readAfter.auth.state()).toEqual(jasmine.objectContaining({ status: 'signed-out', token: null, expiresAt: null }));
      expect(await readAfter.auth.getValidToken()).toBeNull();
    });
  });

  describe('token validation (items 9 and 11)', () => {
    for (const bad of ['abc\u0000def', 'abc\u0007def', 'abc\u007fdef', 'tök€n', 'a\u2028b']) {
      it(`rejects an access token with ${JSON.stringify(bad)} as NFT203, without the token in the error`, async () => {
        const { auth, ctrl, events } = setup();
        ctrl.respondNextWith({ accessToken: bad });
        const err = (await auth.getValidToken().catch((e: unknown) => e)) as FreshTokenError;
        expect(err.code).toBe(FreshTokenErrorCode.InvalidGrant);
        expect(err.message).not.toContain(bad);
        expect(events.map((e) => e.type)).toEqual(['session-expired']);
      });
    }

    function jwtWithPayload(json: string): string {
      const b64 = (s: string) => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      return `${b64('{"alg":"none"}')}.${b64(json)}.`;
    }

    for (const payload of ['null', '"x"', '123', '[]', 'true']) {
      it(`readJwtTimes() throws NFT204 for a JWT whose payload is ${payload}`, () => {
        expect(() => readJwtTimes(jwtWithPayload(payload))).toThrow(jasmine.objectContaining({ code: FreshTokenErrorCode.MalformedToken }));
      });
    }

    it('a source handing out a JWT with a null payload ends the session with NFT204 and session-expired', async () => {
      const { auth, ctrl, events } = setup();
      ctrl.respondNextWith({ accessToken: jwtWithPayload('null') });
      const err = (await auth.getValidToken().catch((e: unknown) => e)) as FreshTokenError;
      expect(err.code).toBe(FreshTokenErrorCode.MalformedToken);
      expect(events.map((e) => e.type)).toEqual(['session-expired']);
      expect(auth.state().error?.code).toBe(FreshTokenErrorCode.MalformedToken);
      expect(ctrl.refreshCount).toBe(1);
    });
  });

  describe('default authorized origin (item 10)', () => {
    it('is location.origin, not the <base href> origin', () => {
      const serverDocument = {
        baseURI: 'https://cdn.example.net/app/',
        location: { href: 'https://app.example.com/page', origin: 'https://app.example.com' },
      };
      const { ctrl, http, httpMock } = coreTestBed([], [{ provide: DOCUMENT, useValue: serverDocument }]);
      ctrl.setToken();
      for (const url of ['https://cdn.example.net/app/x', 'relative/x', 'https://app.example.com/api/abs', '/api/rooted']) http.get(url).subscribe();
      const has = (url: string) => httpMock.expectOne(url).request.headers.has('Authorization');
      expect(has('https://cdn.example.net/app/x')).withContext('CDN base').toBeFalse();
      expect(has('relative/x')).withContext('relative URL resolving to the CDN').toBeFalse();
      expect(has('https://app.example.com/api/abs')).withContext('own origin').toBeTrue();
      expect(has('/api/rooted')).withContext('root-relative URL resolving to the CDN').toBeFalse();
    });
  });

  describe('a JWT whose iat and exp are both in the past', () => {
    it('is trusted as issued now on a skewed clock, and a source that keeps handing it out costs one refresh per failing request', async () => {
      const { auth, ctrl, http, httpMock } = setup();
      const stale = () => createTestJwt({ nowMs: ctrl.clock.now() - 7_200_000, expiresInSeconds: 3_600 });
      ctrl.respondNextWith({ accessToken: stale() });
      await auth.getValidToken();
      expect(auth.state().status).toBe('fresh');
      for (let i = 1; i <= 3; i++) {
        ctrl.respondNextWith({ accessToken: stale() });
        const out = get(http, `/api/${i}`);
        await ctrl.advance(0);
        httpMock.expectOne(`/api/${i}`).flush('no', unauthorized);
        await ctrl.advance(0);
        httpMock.expectOne(`/api/${i}`).flush('no', unauthorized);
        await ctrl.advance(0);
        expect((out.error as HttpErrorResponse).status).toBe(401);
        expect(ctrl.refreshCount).withContext(`after failing request ${i}`).toBe(1 + i);
      }
    });
  });
});
