import { provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { FRESH_TOKEN_CLOCK, withRefreshBuffer } from 'ngx-fresh-token';
import { provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { EventsClock, eventsClock, eventsRenewBeforeExpiryMs } from './events-context';

describe('Events clock and renewal buffer', () => {
  beforeEach(() => {
    TestBed.configureTestingModule({ providers: [provideZonelessChangeDetection(), provideFreshTokenTesting(withRefreshBuffer(5_000))] });
  });

  it("in an injection context: the app's FRESH_TOKEN_CLOCK and refresh buffer", () => {
    const appClock = TestBed.inject(FRESH_TOKEN_CLOCK);
    expect(TestBed.runInInjectionContext(() => eventsClock())).toBe(appClock);
    expect(TestBed.runInInjectionContext(() => eventsRenewBeforeExpiryMs())).toBe(5_000);
  });

  it('explicit arguments win', () => {
    const own: EventsClock = { now: () => 1, setTimeout: () => 0, clearTimeout: () => undefined };
    expect(TestBed.runInInjectionContext(() => eventsClock(own))).toBe(own);
    expect(TestBed.runInInjectionContext(() => eventsRenewBeforeExpiryMs(12_000))).toBe(12_000);
  });

  describe('outside an injection context', () => {
    beforeEach(() => jasmine.clock().install());
    afterEach(() => jasmine.clock().uninstall());

    it('Date.now and the global timers, and the default 30 s buffer', () => {
      jasmine.clock().mockDate(new Date(Date.UTC(2026, 0, 1)));
      const clock = eventsClock();
      expect(clock.now()).toBe(Date.UTC(2026, 0, 1));
      let fired = 0;
      const kept = clock.setTimeout(() => fired++, 1_000);
      const cancelled = clock.setTimeout(() => fired++, 1_000);
      clock.clearTimeout(cancelled);
      jasmine.clock().tick(999);
      expect(fired).toBe(0);
      jasmine.clock().tick(1);
      expect(fired).toBe(1);
      expect(kept).toBeDefined();
      expect(eventsRenewBeforeExpiryMs()).toBe(30_000);
    });
  });
});
