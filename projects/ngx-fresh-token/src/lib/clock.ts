import { InjectionToken } from '@angular/core';

/** Opaque handle of a timer started by a {@link FreshTokenClock}. */
export type FreshTokenTimerHandle = unknown;

/**
 * Where ngx-fresh-token reads the time and starts timers, so tests can move time without
 * waiting (see `ngx-fresh-token/testing`). The default uses `Date.now` and the global timers.
 *
 * @example
 * { provide: FRESH_TOKEN_CLOCK, useValue: myClock }
 */
export interface FreshTokenClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once after `delayMs`. */
  setTimeout(callback: () => void, delayMs: number): FreshTokenTimerHandle;
  /** Cancels a timer from {@link FreshTokenClock.setTimeout}. */
  clearTimeout(handle: FreshTokenTimerHandle): void;
}

// Globals are looked up at call time, so `jasmine.clock().install()` is honoured too.
const systemClock: FreshTokenClock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * The clock ngx-fresh-token uses; replace it to control time in tests.
 *
 * @example
 * TestBed.inject(FRESH_TOKEN_CLOCK).now();
 */
export const FRESH_TOKEN_CLOCK = new InjectionToken<FreshTokenClock>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'FRESH_TOKEN_CLOCK' : '', {
  providedIn: 'root',
  factory: () => systemClock,
});

/** Resolves after `delayMs` on `clock`. */
export function ɵsleep(clock: FreshTokenClock, delayMs: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, Math.max(0, delayMs)));
}
