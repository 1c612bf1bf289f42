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
export const FRESH_TOKEN_CLOCK = /* @__PURE__ */ new InjectionToken<FreshTokenClock>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'FRESH_TOKEN_CLOCK' : '', {
  providedIn: 'root',
  factory: () => systemClock,
});

/** Longest delay a JavaScript timer can take (2³¹ − 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** @internal
 * Runs `callback` once after `delayMs` on `clock`, chaining timers for waits longer than a timer
 * can hold (a 60-day token must not make a timer fire after 1 ms). Returns a cancel function.
 */
export function ɵstartTimer(clock: FreshTokenClock, delayMs: number, callback: () => void): () => void {
  const dueMs = clock.now() + Math.max(0, delayMs);
  let handle: FreshTokenTimerHandle;
  const arm = (leftMs: number) => {
    handle = leftMs > MAX_TIMER_DELAY_MS ? clock.setTimeout(() => arm(dueMs - clock.now()), MAX_TIMER_DELAY_MS) : clock.setTimeout(callback, Math.max(0, leftMs));
  };
  arm(dueMs - clock.now());
  return () => clock.clearTimeout(handle);
}

/** @internal Resolves after `delayMs` on `clock`; rejects with `signal.reason` as soon as `signal` aborts (clearing the timer). */
export function ɵsleep(clock: FreshTokenClock, delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal!.reason);
    };
    const cancel = ɵstartTimer(clock, delayMs, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
