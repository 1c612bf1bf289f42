import type { Observable, Subscription } from 'rxjs';
import { isHeaderSafeToken } from 'ngx-fresh-token/internal';
import type { RefreshRetryPolicy } from './backoff';
import { backoffDelayMs } from './backoff';
import type { FreshTokenClock } from './clock';
import { ɵwithin } from './clock';
import { toFreshTokenError, ɵerror } from './errors';
import type { TokenGrant, TokenRequest, TokenSource } from './token';

/** The first value of a source's Observable; `NFT203` when it completes without one. */
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
      complete: () => reject(ɵerror('NFT203', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The token source Observable completed without a value.' : '')),
    });
    // A synchronous first value arrives before `sub` exists.
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
    // '' only for a session that holds no token in the browser (withBffSession()).
    (isHeaderSafeToken(grant.accessToken) || (grant.accessToken === '' && (grant as { ɵsession?: boolean }).ɵsession === true)) &&
    (grant.expiresAt === undefined || (typeof grant.expiresAt === 'number' && Number.isFinite(grant.expiresAt))) &&
    (grant.idToken === undefined || (typeof grant.idToken === 'string' && isHeaderSafeToken(grant.idToken))) &&
    (grant.user == null || (typeof grant.user === 'object' && !Array.isArray(grant.user)));
  if (!valid) {
    throw ɵerror(
      'NFT203',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The token source returned neither null nor a TokenGrant ({ accessToken: non-empty string of visible ASCII characters, expiresAt?: epoch ms, idToken?, user?: object | null }).' : '',
    );
  }
  return grant as TokenGrant;
}

/**
 * Asks `source` for a token, retrying transient failures with exponential backoff and jitter
 * (honouring `Retry-After`) within `policy`; each call is bounded by the attempt timeout (`NFT206`).
 * A permanent failure, exhausted attempts, a `Retry-After` beyond the budget or an aborted `signal`
 * end it at once (an abort rejects with `signal.reason` and clears every timer). Otherwise rejects
 * only with a {@link FreshTokenError}.
 *
 * @example
 * const grant = await fetchWithRetry(source, { forceRefresh: true }, DEFAULT_REFRESH_RETRY, clock);
 */
export async function fetchWithRetry(
  source: TokenSource,
  request: TokenRequest,
  policy: RefreshRetryPolicy,
  clock: FreshTokenClock,
  signal?: AbortSignal,
): Promise<TokenGrant | null> {
  for (let attempt = 1, waitedMs = 0; ; attempt++) {
    try {
      return validateGrant(
        await ɵwithin(
          clock,
          policy.attemptTimeoutMs,
          signal,
          () => {
            const answer = source.getToken({ ...request });
            return typeof (answer as Observable<unknown>)?.subscribe === 'function' ? firstValue(answer as Observable<unknown>) : answer;
          },
          () => ɵerror('NFT206', (typeof ngDevMode === 'undefined' || ngDevMode) ? `The token source did not answer within ${policy.attemptTimeoutMs} ms.` : '', { transient: true }),
        ),
      );
    } catch (err) {
      // Cancelled (a sign-out, or destroy): no further call, no timer left.
      if (signal?.aborted) throw signal.reason;
      const error = toFreshTokenError(err, clock.now());
      if (!error.transient || attempt >= policy.maxAttempts) throw error;
      const delayMs = backoffDelayMs(attempt, policy, Math.random(), error.retryAfterMs);
      if ((waitedMs += delayMs) > policy.maxTotalMs) throw error;
      await ɵwithin(clock, delayMs, signal);
    }
  }
}
