import type { Observable, Subscription } from 'rxjs';
import type { RefreshRetryPolicy } from './backoff';
import { backoffDelayMs } from './backoff';
import type { FreshTokenClock } from './clock';
import { ɵsleep, ɵstartTimer } from './clock';
import { FreshTokenError, toFreshTokenError } from './errors';
import type { TokenGrant, TokenRequest, TokenSource } from './token';

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
        reject(new FreshTokenError('NFT203', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The token source Observable completed without a value.' : '')),
    });
    if (done) sub.unsubscribe();
  });
}

/** Visible ASCII only: a token goes into an HTTP header, where spaces, control characters or non-ASCII break the request (and Node's fetch would echo the whole header in its error). */
const HEADER_SAFE = /^[\x21-\x7e]+$/;

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
    HEADER_SAFE.test(grant.accessToken) &&
    (grant.expiresAt === undefined || (typeof grant.expiresAt === 'number' && Number.isFinite(grant.expiresAt))) &&
    (grant.idToken === undefined || (typeof grant.idToken === 'string' && HEADER_SAFE.test(grant.idToken))) &&
    (grant.user == null || (typeof grant.user === 'object' && !Array.isArray(grant.user)));
  if (!valid) {
    throw new FreshTokenError(
      'NFT203',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The token source returned neither null nor a TokenGrant ({ accessToken: non-empty string of visible ASCII characters, expiresAt?: epoch ms, idToken?, user?: object | null }).' : '',
    );
  }
  return grant as TokenGrant;
}

/** Calls the source once, bounded by the attempt timeout and by `signal`, and validates the answer. */
function callSourceOnce(
  source: TokenSource,
  request: TokenRequest,
  clock: FreshTokenClock,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<TokenGrant | null> {
  return new Promise<TokenGrant | null>((resolve, reject) => {
    const cancelTimer = ɵstartTimer(clock, timeoutMs, () =>
      reject(
        new FreshTokenError('NFT206', (typeof ngDevMode === 'undefined' || ngDevMode) ? `The token source did not answer within ${timeoutMs} ms.` : '', {
          transient: true,
        }),
      ),
    );
    // Sign-out or destroy: stop waiting at once and let go of the timer (it would keep a Node process alive).
    const onAbort = () => {
      cancelTimer();
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    new Promise<unknown>((res) => {
      const answer = source.getToken({ ...request });
      res(typeof (answer as Observable<unknown>)?.subscribe === 'function' ? firstValue(answer as Observable<unknown>) : answer);
    })
      .then(validateGrant)
      .then(resolve, reject)
      .finally(() => {
        cancelTimer();
        signal?.removeEventListener('abort', onAbort);
      });
    if (signal?.aborted) onAbort();
  });
}

/**
 * Asks `source` for a token, retrying transient failures with exponential backoff and jitter
 * (honouring `Retry-After`) within `policy`; a permanent failure, exhausted attempts, a
 * `Retry-After` beyond the budget or an aborted `signal` end it at once (an abort rejects with
 * `signal.reason` and clears every timer). Otherwise rejects only with a {@link FreshTokenError}.
 *
 * @example
 * const grant = await fetchWithRetry(source, true, DEFAULT_REFRESH_RETRY, clock);
 */
export async function fetchWithRetry(
  source: TokenSource,
  request: TokenRequest,
  policy: RefreshRetryPolicy,
  clock: FreshTokenClock,
  signal?: AbortSignal,
  random: () => number = Math.random,
): Promise<TokenGrant | null> {
  let waitedMs = 0;
  for (let attempt = 1; ; attempt++) {
    // Cancelled before this attempt (a sign-out while waiting for the cross-tab lock): no source call.
    if (signal?.aborted) throw signal.reason;
    try {
      return await callSourceOnce(source, request, clock, policy.attemptTimeoutMs, signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const error = toFreshTokenError(err, clock.now());
      if (!error.transient || attempt >= policy.maxAttempts) throw error;
      const delayMs = backoffDelayMs(attempt, policy, random(), error.retryAfterMs);
      if (waitedMs + delayMs > policy.maxTotalMs) throw error;
      waitedMs += delayMs;
      await ɵsleep(clock, delayMs, signal);
    }
  }
}
