// Zero-wait refresh (issue #11): `withMinValidity()` regions and `withAutoRefresh()`, on fake time.
import { DOCUMENT } from '@angular/common';
import { HttpErrorResponse, HttpHeaders } from '@angular/common/http';
import { HttpTestingController, TestRequest } from '@angular/common/http/testing';
import { EnvironmentInjector, PLATFORM_ID, createEnvironmentInjector } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { FreshTokenTestingController, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { AuthService } from './auth.service';
import { FreshTokenErrorCode } from './errors';
import {
  FreshTokenFeature,
  provideFreshToken,
  withAutoRefresh,
  withMinValidity,
  withRefreshBuffer,
  withRefreshRetry,
  withTokenSource,
} from './provider';
import { coreTestBed } from './core-testbed.spec-helper';

function setup(options: { features?: FreshTokenFeature[]; doc?: FakeDocument; platform?: string } = {}) {
  return coreTestBed(options.features, [
    ...(options.doc ? [{ provide: DOCUMENT, useValue: options.doc }] : []),
    ...(options.platform ? [{ provide: PLATFORM_ID, useValue: options.platform }] : []),
  ]);
}

/** A document whose visibility the test controls. */
class FakeDocument extends EventTarget {
  baseURI = 'https://app.example.com/';
  location = { href: 'https://app.example.com/', origin: 'https://app.example.com' };
  constructor(public visibilityState: string | undefined = 'visible') {
    super();
  }
  setVisibility(state: string): void {
    this.visibilityState = state;
    this.dispatchEvent(new Event('visibilitychange'));
  }
}

const bearer = (req: TestRequest) => req.request.headers.get('Authorization');

describe('zero-wait refresh (withMinValidity)', () => {
  afterEach(() => TestBed.inject(HttpTestingController, null)?.verify());

  it('fresh (more than the buffer left): sent from memory, no source call', () => {
    const { ctrl, http, httpMock } = setup();
    const token = ctrl.setToken({ expiresInSeconds: 31 });
    http.get('/api/a').subscribe();
    expect(bearer(httpMock.expectOne('/api/a'))).toBe(`Bearer ${token}`);
    expect(ctrl.refreshCount).toBe(0);
  });

  it('inside the buffer, above min validity: 50 concurrent requests go out at once with the current token, one background refresh', async () => {
    const { ctrl, http, httpMock, auth } = setup();
    ctrl.latencyMs = 200;
    const old = ctrl.setToken({ expiresInSeconds: 20 });
    for (let i = 0; i < 50; i++) http.get(`/api/items/${i}`).subscribe();
    const sent = httpMock.match((r) => r.url.startsWith('/api/items/'));
    expect(sent.length).toBe(50); // before the source has answered
    expect(sent.every((r) => bearer(r) === `Bearer ${old}`)).toBeTrue();
    expect(ctrl.refreshCount).toBe(1);
    expect(auth.state().refreshing).toBeTrue();
    sent.forEach((r) => r.flush('ok'));
    await ctrl.advance(200);
    expect(ctrl.refreshCount).toBe(1);
    const fresh = auth.state().token!;
    expect(fresh).not.toBe(old);
    http.get('/api/next').subscribe();
    expect(bearer(httpMock.expectOne('/api/next'))).toBe(`Bearer ${fresh}`);
  });

  it('getValidToken() follows the same rule: at once above min validity, waiting below it', async () => {
    const { ctrl, auth } = setup();
    ctrl.latencyMs = 200;
    const old = ctrl.setToken({ expiresInSeconds: 20 });
    expect(await auth.getValidToken()).toBe(old);
    expect(ctrl.refreshCount).toBe(1);
    await ctrl.advance(200);
    const second = ctrl.setToken({ expiresInSeconds: 10 }); // exactly min validity: strict, so it waits
    let settled: string | null | undefined;
    void auth.getValidToken().then((t) => (settled = t));
    await ctrl.advance(100);
    expect(settled).toBeUndefined();
    await ctrl.advance(100);
    expect(settled).toBeTruthy();
    expect(settled).not.toBe(second);
    expect(ctrl.refreshCount).toBe(2);
  });

  it('below min validity and expired: requests wait for the one shared refresh', async () => {
    const { ctrl, http, httpMock, auth } = setup();
    ctrl.latencyMs = 200;
    ctrl.setToken({ expiresInSeconds: 5 });
    http.get('/api/a').subscribe();
    httpMock.expectNone('/api/a');
    await ctrl.advance(200);
    expect(bearer(httpMock.expectOne('/api/a'))).toBe(`Bearer ${auth.state().token}`);
    ctrl.setToken({ expiresInSeconds: 1 });
    await ctrl.advance(2_000); // expired
    http.get('/api/b').subscribe();
    httpMock.expectNone('/api/b');
    await ctrl.advance(200);
    expect(bearer(httpMock.expectOne('/api/b'))).toBe(`Bearer ${auth.state().token}`);
    expect(ctrl.refreshCount).toBe(2);
  });

  it('a background refresh that fails transiently holds nothing up, and the next cycle waits for the cool-down', async () => {
    const { ctrl, http, httpMock, events } = setup({ features: [withRefreshRetry({ maxAttempts: 2, baseDelayMs: 1_000 })] });
    const old = ctrl.setToken({ expiresInSeconds: 25 });
    ctrl.failNextRefresh(undefined, 10);
    for (let second = 0; second < 12; second++) {
      http.get(`/api/${second}`).subscribe();
      expect(bearer(httpMock.expectOne(`/api/${second}`))).withContext(`second ${second}`).toBe(`Bearer ${old}`);
      await ctrl.advance(1_000);
    }
    // 12 s of requests: cycles of 2 calls, each followed by a growing cool-down (1–2 s, 2–4 s, 4–8 s …).
    expect(ctrl.refreshCount).toBeGreaterThanOrEqual(4);
    expect(ctrl.refreshCount).toBeLessThanOrEqual(8);
    expect(events.filter((e) => e.type === 'refresh-failed').length).toBeGreaterThanOrEqual(1);
  });

  it('a token that arrives with less than min validity left is refreshed at half its life, not per request', async () => {
    const { ctrl, auth } = setup();
    ctrl.tokenLifetimeSeconds = 6; // the source cannot do better
    await auth.getValidToken();
    expect(ctrl.refreshCount).toBe(1);
    for (let i = 0; i < 20; i++) await auth.getValidToken();
    expect(ctrl.refreshCount).toBe(1);
    await ctrl.advance(3_000); // half of 6 s
    await auth.getValidToken();
    expect(ctrl.refreshCount).toBe(2);
  });

  it('withMinValidity(0) sends the token until it expires', async () => {
    const { ctrl, auth } = setup({ features: [withMinValidity(0)] });
    ctrl.latencyMs = 100;
    const old = ctrl.setToken({ expiresInSeconds: 2 });
    expect(await auth.getValidToken()).toBe(old);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('the default min validity is lowered to a shorter buffer', async () => {
    const { ctrl, auth } = setup({ features: [withRefreshBuffer(1_000)] });
    ctrl.latencyMs = 100;
    ctrl.setToken({ expiresInSeconds: 2 });
    await ctrl.advance(1_000); // 1 s left: at the buffer and at min validity
    const pending = auth.getValidToken();
    let done = false;
    void pending.then(() => (done = true));
    await ctrl.advance(50);
    expect(done).toBeFalse();
    await ctrl.advance(50);
    expect(done).toBeTrue();
  });

  it('refuses a min validity above the buffer, negative or not finite (NFT107)', () => {
    const source = withTokenSource({ getToken: async () => null });
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
      expect(() => withMinValidity(bad)).withContext(String(bad)).toThrow(jasmine.objectContaining({ code: FreshTokenErrorCode.InvalidMinValidity }));
    }
    expect(() => provideFreshToken(source, withMinValidity(30_001))).toThrow(jasmine.objectContaining({ code: 'NFT107' }));
    expect(() => provideFreshToken(source, withRefreshBuffer(5_000), withMinValidity(6_000))).toThrow(jasmine.objectContaining({ code: 'NFT107' }));
    expect(() => provideFreshToken(source, withRefreshBuffer(5_000), withMinValidity(5_000))).not.toThrow();
    expect(() => provideFreshToken(source, withMinValidity(1), withMinValidity(2))).toThrow(jasmine.objectContaining({ code: 'NFT102' }));
  });

  it('state tells when the refresh starts (refreshAt), null without expiry or token', async () => {
    const { ctrl, auth } = setup({ features: [withRefreshBuffer(20_000)] });
    expect(auth.state().refreshAt).toBeNull();
    ctrl.setToken({ expiresInSeconds: 120 });
    expect(auth.state().refreshAt).toBe(ctrl.clock.now() + 100_000);
    ctrl.respondNextWith({ accessToken: 'opaque-token' });
    await auth.refresh();
    expect(auth.state().refreshAt).toBeNull();
  });
});

describe('withAutoRefresh()', () => {
  it('refreshes by itself when the token enters the buffer while the page is visible', async () => {
    const doc = new FakeDocument('visible');
    const { ctrl, auth, events } = setup({ features: [withAutoRefresh()], doc });
    const old = ctrl.setToken({ expiresInSeconds: 60 });
    await ctrl.advance(29_999);
    expect(ctrl.refreshCount).toBe(0);
    await ctrl.advance(1);
    expect(ctrl.refreshCount).toBe(1);
    expect(ctrl.requests).toEqual([{ forceRefresh: true }]);
    expect(ctrl.clock.pendingTimers).toBe(1); // the next one, for the new token
    expect(auth.state().token).not.toBe(old);
    expect(events.map((e) => e.type)).toEqual(['refreshed']);
  });

  it('does nothing while hidden, and refreshes at once on becoming visible inside the buffer', async () => {
    const doc = new FakeDocument('hidden');
    const { ctrl } = setup({ features: [withAutoRefresh()], doc });
    ctrl.setToken({ expiresInSeconds: 60 });
    expect(ctrl.clock.pendingTimers).toBe(0);
    await ctrl.advance(45_000);
    expect(ctrl.refreshCount).toBe(0);
    doc.setVisibility('visible');
    await ctrl.advance(0);
    expect(ctrl.refreshCount).toBe(1);
    doc.setVisibility('prerender');
    expect(ctrl.clock.pendingTimers).toBe(0);
  });

  it('refreshes at once on becoming visible with an expired token', async () => {
    const doc = new FakeDocument('hidden');
    const { ctrl, auth } = setup({ features: [withAutoRefresh()], doc });
    ctrl.setToken({ expiresInSeconds: 60 });
    await ctrl.advance(120_000);
    expect(auth.state().status).toBe('expired');
    doc.setVisibility('visible');
    await ctrl.advance(0);
    expect(ctrl.refreshCount).toBe(1);
    expect(auth.state().status).toBe('fresh');
  });

  it('treats a document without visibilityState as visible', async () => {
    const doc = new FakeDocument(undefined);
    const { ctrl } = setup({ features: [withAutoRefresh()], doc });
    ctrl.setToken({ expiresInSeconds: 40 });
    await ctrl.advance(10_000);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('does not load the first token by itself, starts once one is held, and stops after signOut()', async () => {
    const doc = new FakeDocument('visible');
    const { ctrl, auth } = setup({ features: [withAutoRefresh()], doc });
    await ctrl.advance(600_000);
    expect(ctrl.refreshCount).toBe(0);
    expect(ctrl.clock.pendingTimers).toBe(0);
    ctrl.setToken({ expiresInSeconds: 60 });
    expect(ctrl.clock.pendingTimers).toBe(1);
    await auth.signOut();
    expect(ctrl.clock.pendingTimers).toBe(0);
    await ctrl.advance(600_000);
    expect(ctrl.refreshCount).toBe(0);
    ctrl.setToken({ expiresInSeconds: 60 }); // a new sign-in
    await ctrl.advance(30_000);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('a failed automatic refresh follows the retry policy and the cool-down: no spin', async () => {
    const doc = new FakeDocument('visible');
    const { ctrl } = setup({ features: [withAutoRefresh(), withRefreshRetry({ maxAttempts: 2, baseDelayMs: 1_000, maxDelayMs: 8_000 })], doc });
    ctrl.setToken({ expiresInSeconds: 60 });
    ctrl.failNextRefresh(undefined, 100);
    await ctrl.advance(30_000);
    expect(ctrl.refreshCount).toBe(1);
    await ctrl.advance(60_000); // token expires at 60 s; the cool-down caps at 8 s per cycle
    // At most 2 calls per cycle, cycles at least ~2 s + the 1–8 s cool-down apart: bounded, far from a spin.
    expect(ctrl.refreshCount).toBeLessThanOrEqual(40);
    expect(ctrl.refreshCount).toBeGreaterThanOrEqual(4);
    expect(ctrl.clock.pendingTimers).toBeLessThanOrEqual(2); // the automatic one, and at most one backoff sleep
  });

  it('never runs on the server platform', async () => {
    const doc = new FakeDocument('visible');
    const { ctrl } = setup({ features: [withAutoRefresh()], doc, platform: 'server' });
    ctrl.setToken({ expiresInSeconds: 60 });
    expect(ctrl.clock.pendingTimers).toBe(0);
    await ctrl.advance(60_000);
    expect(ctrl.refreshCount).toBe(0);
  });

  it('leaves no timer and no listener after the injector is destroyed', async () => {
    const doc = new FakeDocument('visible');
    const removed = spyOn(doc, 'removeEventListener').and.callThrough();
    TestBed.configureTestingModule({ providers: [{ provide: DOCUMENT, useValue: doc }] });
    let calls = 0;
    const clockInjector = TestBed.inject(EnvironmentInjector);
    const injector = createEnvironmentInjector(
      [
        provideFreshTokenTesting(withAutoRefresh()),
      ],
      clockInjector,
    );
    const ctrl = injector.get(FreshTokenTestingController);
    const auth = injector.get(AuthService);
    auth.events$.subscribe(() => calls++);
    ctrl.setToken({ expiresInSeconds: 60 });
    expect(ctrl.clock.pendingTimers).toBe(1);
    injector.destroy();
    expect(ctrl.clock.pendingTimers).toBe(0);
    expect(removed).toHaveBeenCalledWith('visibilitychange', jasmine.any(Function));
    doc.setVisibility('visible');
    await ctrl.advance(60_000);
    expect(ctrl.refreshCount).toBe(0);
    expect(calls).toBe(0);
  });

  it('is off by default', async () => {
    const { ctrl } = setup({ doc: new FakeDocument('visible') });
    ctrl.setToken({ expiresInSeconds: 60 });
    await ctrl.advance(120_000);
    expect(ctrl.refreshCount).toBe(0);
  });

  it('a failed refresh with Retry-After waits that long before the next automatic attempt', async () => {
    const doc = new FakeDocument('visible');
    const { ctrl } = setup({ features: [withAutoRefresh(), withRefreshRetry({ maxAttempts: 1 })], doc });
    ctrl.setToken({ expiresInSeconds: 3_600 });
    ctrl.failNextRefresh(new HttpErrorResponse({ status: 429, headers: new HttpHeaders({ 'Retry-After': '10' }), statusText: 'x' }), 1);
    await ctrl.advance(3_570_000);
    expect(ctrl.refreshCount).toBe(1);
    await ctrl.advance(9_900);
    expect(ctrl.refreshCount).toBe(1);
    await ctrl.advance(100); // the next automatic attempt after the 10 s Retry-After, which succeeds
    expect(ctrl.refreshCount).toBe(2);
  });
});

describe('single flight while the state is being announced', () => {
  // A state$ subscriber that asks for a token when `refreshing: true` is emitted must join the
  // refresh that emitted it, not start a second one.
  it('a subscriber asking for a token on every state costs one source call (no auto refresh)', async () => {
    const { auth, ctrl } = setup();
    ctrl.latencyMs = 200;
    ctrl.setToken({ expiresInSeconds: 40 });
    auth.state$.subscribe(() => void auth.getValidToken());
    await ctrl.advance(10_500); // inside the buffer: the first request there starts the background refresh
    void auth.getValidToken();
    await ctrl.advance(1_000);
    expect(ctrl.refreshCount).toBe(1);
  });

  it('with auto refresh, a subscriber asking once the status leaves fresh costs one source call', async () => {
    const { auth, ctrl } = setup({ features: [withAutoRefresh()], doc: new FakeDocument('visible') });
    ctrl.latencyMs = 200;
    ctrl.setToken({ expiresInSeconds: 40 });
    let asked = false;
    auth.state$.subscribe((s) => {
      if (s.status !== 'fresh' && !asked) {
        asked = true;
        void auth.getValidToken();
      }
    });
    await ctrl.advance(10_500);
    await ctrl.advance(1_000);
    expect(ctrl.refreshCount).toBe(1);
  });
});
