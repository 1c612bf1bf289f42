/**
 * How failed refreshes are retried; every limit is a hard bound, so nothing loops.
 *
 * @example
 * withRefreshRetry({ maxAttempts: 3, attemptTimeoutMs: 5_000 })
 */
export interface RefreshRetryPolicy {
  /** Calls to the token source per refresh, the first included. Default 4. */
  maxAttempts: number;
  /** Delay before the first retry; doubles on each further retry. Default 1 000 ms. */
  baseDelayMs: number;
  /** Upper bound of one delay. Default 15 000 ms. */
  maxDelayMs: number;
  /** Upper bound of all waiting in one refresh; a `Retry-After` beyond it ends the retries. Default 60 000 ms. */
  maxTotalMs: number;
  /** A call to the token source that takes longer fails with `NFT206` (transient). Default 10 000 ms. */
  attemptTimeoutMs: number;
}

/**
 * The defaults of {@link RefreshRetryPolicy}.
 *
 * @example
 * withRefreshRetry({ maxAttempts: DEFAULT_REFRESH_RETRY.maxAttempts * 2 })
 */
export const DEFAULT_REFRESH_RETRY: RefreshRetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 1_000,
  maxDelayMs: 15_000,
  maxTotalMs: 60_000,
  attemptTimeoutMs: 10_000,
};

/**
 * Delay before retry number `retry` (1 for the first retry): exponential with "equal jitter"
 * (half fixed, half random), capped at `maxDelayMs`, and never shorter than `retryAfterMs`.
 *
 * @example
 * backoffDelayMs(2, DEFAULT_REFRESH_RETRY, Math.random()); // between 1 000 and 2 000
 */
export function backoffDelayMs(
  retry: number,
  policy: Pick<RefreshRetryPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  random: number,
  retryAfterMs?: number,
): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  const jittered = exponential / 2 + (exponential / 2) * random;
  return Math.max(jittered, retryAfterMs ?? 0);
}
