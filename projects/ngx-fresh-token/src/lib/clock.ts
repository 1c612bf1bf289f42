import { InjectionToken } from '@angular/core';

/**
 * Opaque handle of a timer started by a {@link FreshTokenClock}.
 *
 * @example
 * const clock = inject(FRESH_TOKEN_CLOCK);
 * const handle: FreshTokenTimerHandle = clock.setTimeout(() => console.log('due'), 1_000);
 * clock.clearTimeout(handle);
 */
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
  const arm = () => {
    const leftMs = dueMs - clock.now();
    handle = clock.setTimeout(leftMs > MAX_TIMER_DELAY_MS ? arm : callback, Math.min(Math.max(0, leftMs), MAX_TIMER_DELAY_MS));
  };
  arm();
  return () => clock.clearTimeout(handle);
}

/** @internal
 * The one way the core waits: settles as `work()` does, unless `signal` aborts first (rejecting with
 * its reason; an aborted `signal` calls nothing) or `delayMs` pass on `clock` first (then rejecting
 * with `timeout()`, or without `timeout` resolving: a plain sleep). Clears the timer and the listener
 * either way, so nothing keeps a Node process alive.
 */
export function ɵwithin<T>(clock: FreshTokenClock, delayMs: number, signal?: AbortSignal, work?: () => T | PromiseLike<T>, timeout?: () => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const settle = (ok: unknown, value: unknown) => {
      cancel();
      signal?.removeEventListener('abort', onAbort);
      (ok ? resolve : reject)(value as T);
    };
    const onAbort = () => settle(0, signal!.reason);
    const cancel = ɵstartTimer(clock, delayMs, () => settle(!timeout, timeout?.()));
    signal?.addEventListener('abort', onAbort);
    // Called inside a promise, so that a synchronous throw rejects like an asynchronous one.
    if (work) new Promise<T>((res) => res(work())).then((value) => settle(1, value), (err) => settle(0, err));
  });
}
