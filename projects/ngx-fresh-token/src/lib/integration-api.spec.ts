// The public integration API (issue #12): what our own entries, and anyone else's, build on.
import { HttpErrorResponse } from '@angular/common/http';
import { InjectionToken, inject, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { createTestJwt } from 'ngx-fresh-token/testing';
import { lastValueFrom, of, throwError } from 'rxjs';
import { AuthService } from './auth.service';
import { FRESH_TOKEN_REFRESH_BUFFER_MS } from './config';
import { FreshTokenError, FreshTokenErrorCode } from './errors';
import { FreshTokenFeature, provideFreshToken, withRefreshBuffer, withRefreshRetry, withTokenSource } from './provider';
import { retryOnUnauthorized } from './unauthorized-retry';
import { coreTestBed } from './core-testbed.spec-helper';

const setup = (...features: FreshTokenFeature[]) => coreTestBed(features);

/** An error shaped like a transport's 401 answer. */
const unauthorized = () => Object.assign(new Error('401'), { status: 401 });
const is401 = (e: unknown) => (e as { status?: number }).status === 401;

describe('integration API', () => {
  describe('setGrant()', () => {
    it('puts a grant in place without calling the source, and null signs out locally', async () => {
      const { auth, ctrl, events } = setup();
      const token = createTestJwt({ expiresInSeconds: 600, nowMs: ctrl.clock.now() });
      auth.setGrant({ accessToken: token, idToken: 'id-1' });
      expect(await auth.getValidToken()).toBe(token);
      expect(auth.idToken).toBe('id-1');
      auth.setGrant(null);
      expect(await auth.getValidToken()).toBeNull();
      expect(ctrl.refreshCount).toBe(0);
      expect(ctrl.signOutCount).toBe(0);
      expect(events).toEqual([]);
    });

    it('refuses what a source could not return either', () => {
      const { auth, ctrl } = setup();
      expect(() => auth.setGrant({ accessToken: 'has space' })).toThrow(jasmine.objectContaining({ code: FreshTokenErrorCode.InvalidGrant }));
      expect(() => auth.setGrant({} as never)).toThrow(jasmine.objectContaining({ code: FreshTokenErrorCode.InvalidGrant }));
      expect(() => auth.setGrant({ accessToken: createTestJwt({ expiresInSeconds: -5, nowMs: ctrl.clock.now() }) })).toThrow(
        jasmine.objectContaining({ code: FreshTokenErrorCode.ExpiredOnArrival }),
      );
      expect(auth.state().status).toBe('signed-out');
    });

    it('drops a refresh in flight, whose answer cannot overwrite it', async () => {
      const { auth, ctrl } = setup();
      ctrl.latencyMs = 100;
      const pending = auth.refresh();
      const mine = createTestJwt({ expiresInSeconds: 600, nowMs: ctrl.clock.now(), claims: { sub: 'login' } });
      auth.setGrant({ accessToken: mine });
      await ctrl.advance(100);
      expect(await pending).toBe(mine);
      expect(auth.state().token).toBe(mine);
    });
  });

  describe('tokenAfterUnauthorized()', () => {
    it('hands out the current token when it changed since, without refreshing', async () => {
      const { auth, ctrl } = setup();
      const sent = ctrl.setToken();
      const current = ctrl.setToken();
      expect(await auth.tokenAfterUnauthorized(sent)).toBe(current);
      expect(ctrl.refreshCount).toBe(0);
    });

    it('else forces one refresh shared by every caller', async () => {
      const { auth, ctrl } = setup();
      ctrl.latencyMs = 50;
      const sent = ctrl.setToken();
      const answers = Promise.all(Array.from({ length: 10 }, () => auth.tokenAfterUnauthorized(sent)));
      await ctrl.advance(50);
      const tokens = new Set(await answers);
      expect(tokens.size).toBe(1);
      expect(tokens.has(sent)).toBeFalse();
      expect(ctrl.requests).toEqual([{ forceRefresh: true }]);
    });

    it('resolves null for a token from a session that ended, rejects with the coded error when the refresh fails', async () => {
      const { auth, ctrl, events } = setup(withRefreshRetry({ maxAttempts: 1 }));
      const old = ctrl.setToken();
      await auth.signOut();
      expect(await auth.tokenAfterUnauthorized(old)).toBeNull();
      const sent = ctrl.setToken();
      ctrl.failNextRefresh(new HttpErrorResponse({ status: 503 }));
      await expectAsync(auth.tokenAfterUnauthorized(sent)).toBeRejectedWith(jasmine.objectContaining({ code: 'NFT201', transient: true }));
      expect(events.map((e) => e.type)).toEqual(['signed-out', 'refresh-failed']); // no event of its own
    });
  });

  describe('retryOnUnauthorized()', () => {
    it('retries a promise transport once with the next token and hands back its result', async () => {
      const { auth, ctrl, events } = setup();
      const first = ctrl.setToken();
      const seen: string[] = [];
      const result = await lastValueFrom(
        retryOnUnauthorized(auth, first, async (t) => {
          seen.push(t);
          if (t === first) throw unauthorized();
          return `ok with ${t}`;
        }, is401),
      );
      expect(seen.length).toBe(2);
      expect(seen[1]).not.toBe(first);
      expect(result).toBe(`ok with ${seen[1]}`);
      expect(ctrl.refreshCount).toBe(1);
      expect(events.map((e) => e.type)).toEqual(['refreshed']);
    });

    it('a second 401 reaches the caller unchanged and emits unauthorized; no third attempt', async () => {
      const { auth, ctrl, events } = setup();
      const token = ctrl.setToken();
      let calls = 0;
      const second = unauthorized();
      const err = await lastValueFrom(
        retryOnUnauthorized(auth, token, () => {
          calls++;
          return throwError(() => (calls === 1 ? unauthorized() : second));
        }, is401),
      ).catch((e: unknown) => e);
      expect(err).toBe(second);
      expect(calls).toBe(2);
      expect(events.map((e) => e.type)).toEqual(['refreshed', 'unauthorized']);
    });

    it('with nothing to retry with, the original 401 reaches the caller and unauthorized is emitted', async () => {
      const { auth, ctrl, events } = setup(withRefreshRetry({ maxAttempts: 1 }));
      const token = ctrl.setToken();
      ctrl.failNextRefresh(new HttpErrorResponse({ status: 400 })); // the session ends
      const original = unauthorized();
      let calls = 0;
      const err = await lastValueFrom(retryOnUnauthorized(auth, token, () => (calls++, throwError(() => original)), is401)).catch((e: unknown) => e);
      expect(err).toBe(original);
      expect(calls).toBe(1);
      expect(events.map((e) => e.type)).toEqual(['session-expired', 'unauthorized']);
    });

    it('passes other errors and successes through untouched', async () => {
      const { auth, ctrl } = setup();
      const token = ctrl.setToken();
      const boom = new Error('500');
      expect(await lastValueFrom(retryOnUnauthorized(auth, token, () => of('fine'), is401))).toBe('fine');
      expect(await lastValueFrom(retryOnUnauthorized(auth, token, () => throwError(() => boom), is401)).catch((e) => e)).toBe(boom);
      expect(ctrl.refreshCount).toBe(0);
    });
  });

  describe('reportUnauthorized()', () => {
    it('emits unauthorized on events$', () => {
      const { auth, events } = setup();
      auth.reportUnauthorized();
      expect(events).toEqual([{ type: 'unauthorized' }]);
    });
  });

  describe('FRESH_TOKEN_REFRESH_BUFFER_MS and withTokenSource(source, providers)', () => {
    it('an integration reads the app’s buffer, and its source gets its own providers beside it', async () => {
      const OPTIONS = new InjectionToken<{ prefix: string }>('options');
      class Session {
        readonly options = inject(OPTIONS);
        readonly bufferMs = inject(FRESH_TOKEN_REFRESH_BUFFER_MS);
        getToken = async () => ({ accessToken: `${this.options.prefix}-${this.bufferMs}` });
      }
      TestBed.configureTestingModule({
        providers: [
          provideZonelessChangeDetection(),
          provideFreshToken(withTokenSource(() => inject(Session), [Session, { provide: OPTIONS, useValue: { prefix: 'tok' } }]), withRefreshBuffer(12_000)),
        ],
      });
      expect(await TestBed.inject(AuthService).getValidToken()).toBe('tok-12000');
      expect(TestBed.inject(FRESH_TOKEN_REFRESH_BUFFER_MS)).toBe(12_000);
    });
  });

  it('FreshTokenError stays the only error type of the API', () => {
    expect(new FreshTokenError('NFT201', 'x')).toEqual(jasmine.any(Error));
  });
});
