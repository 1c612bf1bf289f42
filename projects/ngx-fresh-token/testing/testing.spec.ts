import { TestBed } from '@angular/core/testing';
import { AuthService, readJwtTimes } from 'ngx-fresh-token';
import { FreshTokenTestingController, ManualClock, createTestJwt, provideFreshTokenTesting } from 'ngx-fresh-token/testing';

describe('ngx-fresh-token/testing', () => {
  it('createTestJwt makes a decodable JWT with iat, exp, unique jti and extra claims', () => {
    const nowMs = Date.UTC(2026, 0, 1);
    const a = createTestJwt({ expiresInSeconds: 90, nowMs, claims: { sub: 'alice' } });
    const b = createTestJwt({ expiresInSeconds: 90, nowMs });
    expect(readJwtTimes(a)).toEqual({ iatMs: nowMs, expMs: nowMs + 90_000 });
    expect(JSON.parse(atob(a.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))).toEqual(
      jasmine.objectContaining({ sub: 'alice' }),
    );
    expect(a).not.toBe(b);
  });

  it('ManualClock fires due timers in order, at their own time, and only when advanced', async () => {
    const clock = new ManualClock(1_000);
    const fired: Array<[string, number]> = [];
    clock.setTimeout(() => fired.push(['b', clock.now()]), 200);
    clock.setTimeout(() => fired.push(['a', clock.now()]), 100);
    const cancelled = clock.setTimeout(() => fired.push(['x', clock.now()]), 150);
    clock.clearTimeout(cancelled);
    expect(clock.pendingTimers).toBe(2);
    await clock.advance(150);
    expect(fired).toEqual([['a', 1_100]]);
    await clock.advance(50);
    expect(fired).toEqual([
      ['a', 1_100],
      ['b', 1_200],
    ]);
    expect(clock.now()).toBe(1_200);
    expect(clock.pendingTimers).toBe(0);
  });

  it('the controller sets tokens, counts refreshes and fails the next refresh on demand', async () => {
    TestBed.configureTestingModule({ providers: [provideFreshTokenTesting()] });
    const ctrl = TestBed.inject(FreshTokenTestingController);
    const auth = TestBed.inject(AuthService);
    const token = ctrl.setToken({ expiresInSeconds: 120 });
    expect(auth.state().token).toBe(token);
    expect(ctrl.refreshCount).toBe(0);
    ctrl.failNextRefresh();
    const pending = auth.refresh().catch((e) => e);
    await ctrl.advance(2_000);
    expect(ctrl.refreshCount).toBe(2);
    expect(await pending).toBe(auth.state().token);
    await ctrl.advance(120_000);
    expect(auth.state().status).toBe('fresh');
    ctrl.clearToken();
    expect(auth.state().status).toBe('signed-out');
  });
});
