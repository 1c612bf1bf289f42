import { HttpErrorResponse, HttpHeaders } from '@angular/common/http';
import { ApplicationRef, PLATFORM_ID, inject, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { FreshTokenTestingController, createTestJwt, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { Observable, Subscription, of } from 'rxjs';
import { AuthService } from './auth.service';
import { FreshTokenError, FreshTokenErrorCode } from './errors';
import { FreshTokenFeature, provideFreshToken, withRefreshRetry, withTokenSource } from './provider';
import type { TokenState } from './token';
import { coreTestBed, track } from './core-testbed.spec-helper';

const setup = (...features: FreshTokenFeature[]) => coreTestBed(features);

describe('AuthService', () => {
  describe('getValidToken()', () => {
    it('returns a fresh token from memory without calling the source', async () => {
      const { auth, ctrl } = setup();
      const token = ctrl.setToken({ expiresInSeconds: 3600 });
      expect(await auth.getValidToken()).toBe(token);
      expect(await auth.getValidToken()).toBe(token);
      expect(ctrl.refreshCount).toBe(0);
    });

    it('loads the token from the source on first use, without forcing a refresh', async () => {
      const { auth, ctrl } = setup();
      const token = await auth.getValidToken();
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.$/);
      expect(ctrl.requests).toEqual([{ forceRefresh: false }]);
    });

    it('refreshes a token below min validity with forceRefresh before returning it', async () => {
      const { auth, ctrl, events } = setup();
      const old = ctrl.setToken({ expiresInSeconds: 8 });
      const token = await auth.getValidToken();
      expect(token).not.toBe(old);
      expect(ctrl.requests).toEqual([{ forceRefresh: true }]);
      expect(events.map((e) => e.type)).toEqual(['refreshed']);
    });

    it('shares one refresh among 50 concurrent callers inside the buffer', async () => {
      const { auth, ctrl } = setup();
      ctrl.latencyMs = 200;
      ctrl.setToken({ expiresInSeconds: 10 });
      const calls = Array.from({ length: 50 }, () => track(auth.getValidToken()));
      await ctrl.advance(200);
      expect(ctrl.refreshCount).toBe(1);
      const tokens = new Set(calls.map((c) => c.value));
      expect(calls.every((c) => c.settled)).toBeTrue();
      expect(tokens.size).toBe(1);
      expect(tokens.has(auth.state().token!)).toBeTrue();
    });

    it('resolves null when the source says signed out, and asks no more until refresh()', async () => {
      const { auth, ctrl } = setup();
      ctrl.signedInAtSource = false;
      expect(await auth.getValidToken()).toBeNull();
      expect(await auth.getValidToken()).toBeNull();
      expect(ctrl.refreshCount).toBe(1);
      expect(auth.state().status).toBe('signed-out');
      ctrl.signedInAtSource = true;
      const token = await auth.refresh();
      expect(token).not.toBeNull();
      expect(await auth.getValidToken()).toBe(token);
      expect(ctrl.refreshCount).toBe(2);
    });
  });

  describe('refresh()', () => {
    it('shares a forced refresh with one already in flight', async () => {
      const { auth, ctrl } = setup();
      ctrl.latencyMs = 100;
      ctrl.setToken({ expiresInSeconds: 3600 });
      const a = track(auth.refresh());
      const b = track(auth.refresh());
      await ctrl.advance(100);
      expect(ctrl.refreshCount).toBe(1);
      expect(a.value).toBe(b.value!);
    });

    it('marks the state as refreshing while in flight', async () => {
      const { auth, ctrl } = setup();
      ctrl.latencyMs = 100;
      ctrl.setToken();
      track(auth.refresh());
      expect(auth.state().refreshing).toBeTrue();
      await ctrl.advance(100);
      expect(auth.state().refreshing).toBeFalse();
    });
  });

  describe('transient failures', () => {
    it('retries 503s with growing, jittered delays, then succeeds', async () => {
      const { auth, ctrl, events } = setup();
      ctrl.setToken({ expiresInSeconds: 3600 });
      ctrl.failNextRefresh(new HttpErrorResponse({ status: 503 }), 2);
      const result = track(auth.refresh());
      await ctrl.advance(499);
      expect(ctrl.refreshCount).toBe(1); // first retry waits 500–1000 ms
      await ctrl.advance(501);
      expect(ctrl.refreshCount).toBe(2);
      await ctrl.advance(499);
      expect(ctrl.refreshCount).toBe(2); // second retry waits 1000–2000 ms
      await ctrl.advance(1501);
      expect(ctrl.refreshCount).toBe(3);
      expect(result.settled).toBeTrue();
      expect(result.value).toBe(auth.state().token!);
      expect(events.map((e) => e.type)).toEqual(['refreshed']);
    });

    it('honours Retry-After on a 429', async () => {
      const { auth, ctrl } = setup();
      ctrl.setToken({ expiresInSeconds: 3600 });
      ctrl.failNextRefresh(new HttpErrorResponse({ status: 429, headers: new HttpHeaders({ 'Retry-After': '5' }) }));
      const result = track(auth.refresh());
      await ctrl.advance(4_999);
      expect(ctrl.refreshCount).toBe(1);
      await ctrl.advance(1);
      expect(ctrl.refreshCount).toBe(2);
      expect(result.value).toBeTruthy();
    });

    it('honours Retry-After given as an HTTP date', async () => {
      const { auth, ctrl } = setup();
      ctrl.setToken();
      const at = new Date(ctrl.clock.now() + 7_000).toUTCString();
      ctrl.failNextRefresh(new HttpErrorResponse({ status: 429, headers: new HttpHeaders({ 'Retry-After': at }) }));
      track(auth.refresh());
      await ctrl.advance(6_999);
      expect(ctrl.refreshCount).toBe(1);
      await ctrl.advance(1);
      expect(ctrl.refreshCount).toBe(2);
    });

    it('gives up after maxAttempts with NFT201 and a refresh-failed event, and does not loop', async () => {
      const { auth, ctrl, events } = setup();
      ctrl.setToken({ expiresInSeconds: 3600 });
      ctrl.failNextRefresh(new HttpErrorResponse({ status: 500 }), 100);
      const result = track(auth.refresh());
      await ctrl.advance(120_000);
      expect(ctrl.refreshCount).toBe(4);
      expect((result.error as FreshTokenError).code).toBe(FreshTokenErrorCode.RefreshFailed);
      expect(events.map((e) => e.type)).toEqual(['refresh-failed']);
      expect(ctrl.clock.pendingTimers).toBe(0);
      await ctrl.advance(600_000);
      expect(ctrl.refreshCount).toBe(4);
      expect(auth.state().error?.code).toBe(FreshTokenErrorCode.RefreshFailed);
    });

    it('stops retrying when Retry-After exceeds the total retry budget', async () => {
      const { auth, ctrl } = setup(withRefreshRetry({ maxTotalMs: 10_000 }));
      ctrl.setToken();
      ctrl.failNextRefresh(new HttpErrorResponse({ status: 429, headers: new HttpHeaders({ 'Retry-After': '60' }) }));
      const result = track(auth.refresh());
      await ctrl.advance(0);
      expect(ctrl.refreshCount).toBe(1);
      expect((result.error as FreshTokenError).retryAfterMs).toBe(60_000);
    });

    it('keeps using an expiring, unexpired token while the refresh fails transiently', async () => {
      const { auth, ctrl } = setup(withRefreshRetry({ maxAttempts: 1 }));
      const old = ctrl.setToken({ expiresInSeconds: 8 });
      ctrl.failNextRefresh(new HttpErrorResponse({ status: 0 }));
      expect(await auth.getValidToken()).toBe(old);
      expect(ctrl.refreshCount).toBe(1);
      expect(auth.state().status).toBe('expiring');
      expect(auth.state().error?.code).toBe(FreshTokenErrorCode.RefreshFailed);
    });

    it('rejects with the coded error when the token has expired and the refresh fails transiently', async () => {
      const { auth, ctrl } = setup(withRefreshRetry({ maxAttempts: 1 }));
      ctrl.setToken({ expiresInSeconds: 60 });
      await ctrl.advance(61_000);
      ctrl.failNextRefresh(new TypeError('Failed to fetch'));
      await expectAsync(auth.getValidToken()).toBeRejectedWith(jasmine.objectContaining({ code: 'NFT201' }));
    });

    it('bounds a hanging source with the attempt timeout (NFT206)', async () => {
      const { auth, ctrl } = setup(withRefreshRetry({ maxAttempts: 1, attemptTimeoutMs: 5_000 }));
      ctrl.setToken();
      ctrl.latencyMs = 3_600_000;
      const result = track(auth.refresh());
      await ctrl.advance(4_999);
      expect(result.settled).toBeFalse();
      await ctrl.advance(1);
      expect((result.error as FreshTokenError).code).toBe(FreshTokenErrorCode.RefreshTimeout);
      expect(auth.state().refreshing).toBeFalse();
    });
  });

  describe('permanent failures end the session', () => {
    it('on 400 invalid_grant: signed-out with the error, session-expired, TokenSource.signOut(), one call', async () => {
      const { auth, ctrl, events } = setup();
      ctrl.setToken({ expiresInSeconds: 10 });
      ctrl.failNextRefresh(new HttpErrorResponse({ status: 400, error: { error: 'invalid_grant' } }));
      await expectAsync(auth.getValidToken()).toBeRejectedWith(jasmine.objectContaining({ code: 'NFT202' }));
      await ctrl.advance(0);
      expect(ctrl.refreshCount).toBe(1);
      expect(ctrl.signOutCount).toBe(1);
      expect(auth.state()).toEqual(
        jasmine.objectContaining({ status: 'signed-out', token: null, error: jasmine.objectContaining({ code: 'NFT202' }) }),
      );
      expect(events.map((e) => e.type)).toEqual(['session-expired']);
      expect(await auth.getValidToken()).toBeNull();
      expect(ctrl.refreshCount).toBe(1);
    });

    it('on a 401 from the source', async () => {
      const { auth, ctrl, events } = setup();
      ctrl.setToken({ expiresInSeconds: 10 });
      ctrl.failNextRefresh(new HttpErrorResponse({ status: 401 }));
      await expectAsync(auth.refresh()).toBeRejectedWith(jasmine.objectContaining({ code: 'NFT202', status: 401 }));
      expect(events[0].type).toBe('session-expired');
    });

    it('on a malformed JWT (NFT204)', async () => {
      const { auth, ctrl, events } = setup();
      ctrl.respondNextWith({ accessToken: 'eyJhbGciOiJub25lIn0.%%%not-json%%%.sig' });
      await expectAsync(auth.getValidToken()).toBeRejectedWith(jasmine.objectContaining({ code: 'NFT204' }));
      expect(auth.state().status).toBe('signed-out');
      expect(events.map((e) => e.type)).toEqual(['session-expired']);
    });

    it('on something that is not a grant (NFT203)', async () => {
      const { auth, ctrl } = setup();
      ctrl.respondNextWith({ accessToken: 42 });
      await expectAsync(auth.getValidToken()).toBeRejectedWith(jasmine.objectContaining({ code: 'NFT203' }));
      ctrl.respondNextWith(undefined);
      await expectAsync(auth.refresh()).toBeRejectedWith(jasmine.objectContaining({ code: 'NFT203' }));
      expect(ctrl.refreshCount).toBe(2);
    });

    it('on a configuration error the server names (NFT410 answered as HTTP 500): one call, never retried', async () => {
      const { auth, ctrl, events } = setup();
      ctrl.failNextRefresh(new HttpErrorResponse({ status: 500, error: { error: 'server_error', code: 'NFT410' } }), 4);
      const got = track(auth.getValidToken());
      await ctrl.advance(60_000);
      expect(ctrl.refreshCount).toBe(1);
      expect(got.error).toEqual(jasmine.objectContaining({ transient: false }));
      expect(events.map((e) => e.type)).toEqual(['session-expired']);
    });

    it('tells TokenSource.signOut() why: the error of a permanent failure, nothing for an explicit signOut()', async () => {
      const calls: unknown[][] = [];
      TestBed.configureTestingModule({
        providers: [
          provideZonelessChangeDetection(),
          provideFreshToken(
            withTokenSource({
              getToken: () => Promise.reject(new HttpErrorResponse({ status: 403 })),
              signOut: (...args: unknown[]) => {
                calls.push(args);
              },
            }),
          ),
        ],
      });
      const auth = TestBed.inject(AuthService);
      await expectAsync(auth.getValidToken()).toBeRejected();
      await auth.signOut();
      expect(calls.length).toBe(2);
      expect(calls[0]).toEqual([jasmine.objectContaining({ error: jasmine.objectContaining({ code: 'NFT202', status: 403 }) })]);
      expect(calls[1]).toEqual([]);
    });

    it('on a token that expired before it arrived (NFT205)', async () => {
      const { auth, ctrl } = setup();
      ctrl.respondNextWith({ accessToken: 'opaque', expiresAt: ctrl.clock.now() - 1 });
      await expectAsync(auth.getValidToken()).toBeRejectedWith(jasmine.objectContaining({ code: 'NFT205' }));
      expect(auth.state().status).toBe('signed-out');
    });
  });

  describe('sources', () => {
    it('accepts an Observable source and takes its first value', async () => {
      const token = createTestJwt({ expiresInSeconds: 600 });
      TestBed.configureTestingModule({
        providers: [provideFreshToken(withTokenSource({ getToken: () => of({ accessToken: token }) }))],
      });
      expect(await TestBed.inject(AuthService).getValidToken()).toBe(token);
    });

    it('turns an Observable that completes empty into NFT203', async () => {
      TestBed.configureTestingModule({
        providers: [provideFreshToken(withTokenSource({ getToken: () => new Observable<null>((s) => s.complete()) }))],
      });
      await expectAsync(TestBed.inject(AuthService).getValidToken()).toBeRejectedWith(jasmine.objectContaining({ code: 'NFT203' }));
    });

    it('turns a synchronous throw into a coded transient error after bounded retries', async () => {
      const { auth, ctrl } = setup(withRefreshRetry({ maxAttempts: 2 }));
      ctrl.failNextRefresh(new Error('boom'), 2);
      const result = track(auth.getValidToken());
      await ctrl.advance(60_000);
      expect((result.error as FreshTokenError).code).toBe('NFT201');
      expect(ctrl.refreshCount).toBe(2);
    });

    it('runs a source factory in an injection context', async () => {
      TestBed.configureTestingModule({
        providers: [
          provideFreshToken(
            withTokenSource(() => {
              const platform = inject(PLATFORM_ID);
              return { getToken: async () => ({ accessToken: `opaque-${platform}` }) };
            }),
          ),
        ],
      });
      expect(await TestBed.inject(AuthService).getValidToken()).toBe('opaque-browser');
    });
  });

  describe('signOut()', () => {
    it('clears the token, calls the source, emits signed-out and drops a refresh in flight', async () => {
      const { auth, ctrl, events } = setup();
      ctrl.latencyMs = 100;
      ctrl.setToken({ expiresInSeconds: 10 });
      const pending = track(auth.getValidToken());
      await auth.signOut();
      await ctrl.advance(100);
      expect(pending.value).toBeNull();
      expect(auth.state().status).toBe('signed-out');
      expect(auth.state().token).toBeNull();
      expect(ctrl.signOutCount).toBe(1);
      expect(events.map((e) => e.type)).toEqual(['signed-out']);
    });
  });

  describe('lifetime streams', () => {
    it('state$ goes fresh → expiring at exp − 30 s → expired, and the signal follows', async () => {
      const { auth, ctrl } = setup();
      ctrl.setToken({ expiresInSeconds: 90 });
      const seen: TokenState['status'][] = [];
      const sub = auth.state$.subscribe((s) => seen.push(s.status));
      expect(seen).toEqual(['fresh']);
      await ctrl.advance(59_999);
      expect(seen).toEqual(['fresh']);
      await ctrl.advance(1);
      expect(seen).toEqual(['fresh', 'expiring']);
      expect(auth.state().status).toBe('expiring');
      await ctrl.advance(30_000);
      expect(seen).toEqual(['fresh', 'expiring', 'expired']);
      expect(auth.state().status).toBe('expired');
      sub.unsubscribe();
    });

    it('state$ replays the current state to late subscribers', async () => {
      const { auth, ctrl } = setup();
      const token = ctrl.setToken({ expiresInSeconds: 600 });
      const first = await new Promise<TokenState>((resolve) => auth.state$.subscribe(resolve).unsubscribe());
      expect(first).toEqual({
        status: 'fresh',
        token,
        expiresAt: ctrl.clock.now() + 600_000,
        refreshing: false,
        error: null,
        refreshAt: ctrl.clock.now() + 570_000,
      });
    });

    it('expiresIn$ ticks about once a second down to 0 and stops', async () => {
      const { auth, ctrl } = setup();
      ctrl.setToken({ expiresInSeconds: 3 });
      const seen: Array<number | null> = [];
      const sub = auth.expiresIn$.subscribe((ms) => seen.push(ms));
      await ctrl.advance(10_000);
      expect(seen).toEqual([3_000, 2_000, 1_000, 0]);
      expect(ctrl.clock.pendingTimers).toBe(0);
      sub.unsubscribe();
    });

    it('expiresIn$ emits null when signed out or the token never expires', () => {
      const { auth, ctrl } = setup();
      const seen: Array<number | null> = [];
      const sub = auth.expiresIn$.subscribe((ms) => seen.push(ms));
      expect(seen).toEqual([null]);
      sub.unsubscribe();
      expect(ctrl.clock.pendingTimers).toBe(0);
    });

    it('stops all timers when the last subscriber leaves', async () => {
      const { auth, ctrl } = setup();
      ctrl.setToken({ expiresInSeconds: 600 });
      const subs = new Subscription();
      const ticks: number[] = [];
      subs.add(auth.state$.subscribe());
      subs.add(auth.expiresIn$.subscribe((ms) => ticks.push(ms!)));
      await ctrl.advance(3_000);
      expect(ticks.length).toBe(4);
      expect(ctrl.clock.pendingTimers).toBe(2);
      subs.unsubscribe();
      expect(ctrl.clock.pendingTimers).toBe(0);
      await ctrl.advance(10_000);
      expect(ticks.length).toBe(4);
    });

    it('token$ emits the token when it changes', async () => {
      const { auth, ctrl } = setup();
      const seen: Array<string | null> = [];
      auth.token$.subscribe((t) => seen.push(t));
      const a = ctrl.setToken();
      const b = await auth.refresh();
      await auth.signOut();
      expect(seen).toEqual([null, a, b, null]);
    });
  });

  describe('on the server platform', () => {
    it('starts no timers and never keeps the app from becoming stable', async () => {
      TestBed.configureTestingModule({
        providers: [provideZonelessChangeDetection(), { provide: PLATFORM_ID, useValue: 'server' }, provideFreshTokenTesting()],
      });
      const auth = TestBed.inject(AuthService);
      const ctrl = TestBed.inject(FreshTokenTestingController);
      ctrl.setToken({ expiresInSeconds: 90 });
      const states: string[] = [];
      const ticks: Array<number | null> = [];
      const subs = new Subscription();
      subs.add(auth.state$.subscribe((s) => states.push(s.status)));
      subs.add(auth.expiresIn$.subscribe((ms) => ticks.push(ms)));
      expect(auth.state().status).toBe('fresh');
      expect(await auth.getValidToken()).toBeTruthy();
      expect(ctrl.clock.pendingTimers).toBe(0);
      await TestBed.inject(ApplicationRef).whenStable();
      expect(states).toEqual(['fresh']);
      expect(ticks).toEqual([90_000]);
      subs.unsubscribe();
    });
  });
});
