import { ProviderToken, inject } from '@angular/core';
import { DEFAULT_REFRESH_BUFFER_MS, FRESH_TOKEN_CLOCK, FRESH_TOKEN_REFRESH_BUFFER_MS } from 'ngx-fresh-token';
import type { FreshTokenClock } from 'ngx-fresh-token';

/**
 * The part of the core's clock that Events connections and publishes use.
 *
 * @example
 * const clock: EventsClock = TestBed.inject(FRESH_TOKEN_CLOCK);
 */
export type EventsClock = Pick<FreshTokenClock, 'now' | 'setTimeout' | 'clearTimeout'>;

/** `token`'s value when called in an injection context; `undefined` outside one (`inject()` throws NG0203 there). */
function fromInjectionContext<T>(token: ProviderToken<T>): T | undefined {
  try {
    return inject(token, { optional: true }) ?? undefined;
  } catch {
    return undefined;
  }
}

// Only for a direct call made outside any injection context and without a clock argument, where no
// DI token can be read. Globals are looked up at call time, like the core's default clock.
const platformTimers: EventsClock = {
  now: () => Date.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * The clock of an Events connection or publish: the one passed in (`AmplifyFreshToken` passes
 * the app's `FRESH_TOKEN_CLOCK`), else `FRESH_TOKEN_CLOCK` when called in an injection context,
 * else `Date.now` and the global timers.
 *
 * @example
 * const clock = eventsClock(); // in a field initializer: the app's FRESH_TOKEN_CLOCK
 */
export function eventsClock(clock?: EventsClock): EventsClock {
  return clock ?? fromInjectionContext(FRESH_TOKEN_CLOCK) ?? platformTimers;
}

/**
 * How long before the connect token expires a connection is renewed: `renewBeforeExpiryMs` when
 * given, else the app's refresh buffer (`FRESH_TOKEN_REFRESH_BUFFER_MS`) when called in an
 * injection context, else the default buffer (30 s).
 *
 * @example
 * const renewBeforeMs = eventsRenewBeforeExpiryMs(options.renewBeforeExpiryMs);
 */
export function eventsRenewBeforeExpiryMs(renewBeforeExpiryMs?: number): number {
  return renewBeforeExpiryMs ?? fromInjectionContext(FRESH_TOKEN_REFRESH_BUFFER_MS) ?? DEFAULT_REFRESH_BUFFER_MS;
}
