import { isObservable, Observable, Subscription } from 'rxjs';
import type { RefreshRetryPolicy } from './backoff';
import { backoffDelayMs } from './backoff';
import type { FreshTokenClock } from './clock';
import { ɵsleep } from './clock';
import { FreshTokenError, FreshTokenErrorCode, toFreshTokenError } from './errors';
import type { TokenGrant, TokenSource } from './token';

function firstValue<T>(source: Observable<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let sub: Subscription | undefined = undefined;
    sub = source.subscribe({
      next: (value) => {
        done = true;
        resolve(value);
        sub?.unsubscribe();
      },
      error: reject,
      complete: () =>
        done ||
        reject(new FreshTokenError(FreshTokenErrorCode.InvalidGrant, (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The token source Observable completed without a value.' : '')),
    });
    if (done) sub.unsubscribe();
  });
}

/**
 * Checks that a value from a token source is a `TokenGrant` or `null`; throws `NFT203` otherwise.
 *
 * @example
 * validateGrant({ accessToken: 'abc' });
 */
export function validateGrant(value: unknown): TokenGrant | null {
  if (value === null) return null;
  const grant = value as Partial<TokenGrant> | undefined;
  const valid =
    typeof grant === 'object' &&
    typeof grant.accessToken === 'string' &&
    grant.accessToken.length > 0 &&
    !/\s/.test(grant.accessToken) &&
    (grant.expiresAt === undefined || (typeof grant.expiresAt === 'number' && Number.isFinite(grant.expiresAt))) &&
    (grant.idToken === undefined || typeof grant.idToken === 'string');
  if (!valid) {
    throw new FreshTokenError(
      FreshTokenErrorCode.InvalidGrant,
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The token source returned neither null nor a TokenGrant ({ accessToken: non-empty string without spaces, expiresAt?: epoch ms }).' : '',
    );
  }
  return grant as TokenGrant;
}

/** Calls the source once, bounded by the attempt timeout, and validates the answer. */
function callSourceOnce(
  source: TokenSource,
  forceRefresh: boolean,
  clock: FreshTokenClock,
  timeoutMs: number,
): Promise<TokenGrant | null> {
  return new Promise<TokenGrant | null>((resolve, reject) => {
    const timer = clock.setTimeout(
      () =>
        reject(
          new FreshTokenError(FreshTokenErrorCode.RefreshTimeout, (typeof ngDevMode === 'undefined' || ngDevMode) ? `The token source did not answer within ${timeoutMs} ms.` : '', {
            transient: true,
          }),
        ),
      timeoutMs,
    );
    new Promise<unknown>((res) => {
      const answer = source.getToken({ forceRefresh });
      res(isObservable(answer) ? firstValue(answer) : answer);
    })
      .then(validateGrant)
      .then(resolve, reject)
      .finally(() => clock.clearTimeout(timer));
  });
}

/**
 * Asks `source` for a token, retrying transient failures with exponential backoff and jitter
 * (honouring `Retry-After`) within `policy`; a permanent failure, exhausted attempts or
 * `isCancelled()` end it at once. Rejects only with a {@link FreshTokenError}; `onRetry` hears
 * each transient failure that will be retried.
 *
 * @example
 * const grant = await fetchWithRetry(source, true, DEFAULT_REFRESH_RETRY, clock);
 */
export async function fetchWithRetry(
  source: TokenSource,
  forceRefresh: boolean,
  policy: RefreshRetryPolicy,
  clock: FreshTokenClock,
  isCancelled: () => boolean = () => false,
  random: () => number = Math.random,
): Promise<TokenGrant | null> {
  let waitedMs = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await callSourceOnce(source, forceRefresh, clock, policy.attemptTimeoutMs);
    } catch (err) {
      const error = toFreshTokenError(err, clock.now());
      if (!error.transient || attempt >= policy.maxAttempts || isCancelled()) throw error;
      const delayMs = backoffDelayMs(attempt, policy, random(), error.retryAfterMs);
      if (waitedMs + delayMs > policy.maxTotalMs) throw error;
      waitedMs += delayMs;
      await ɵsleep(clock, delayMs);
      if (isCancelled()) throw error;
    }
  }
}
