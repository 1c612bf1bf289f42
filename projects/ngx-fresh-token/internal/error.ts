/**
 * Extra facts carried by a {@link FreshTokenError}; none of them is ever a secret.
 *
 * @example
 * const details: FreshTokenErrorDetails = { transient: true, status: 503, retryAfterMs: 2_000 };
 */
export interface FreshTokenErrorDetails {
  /** `true` when a later attempt may succeed (network, 5xx, 429, timeout). */
  transient?: boolean;
  /** The HTTP status involved: of the failed token request (browser), or the one the server answers with (server entries). */
  status?: number;
  /** The wait before the next attempt, in ms: from `Retry-After`, or what a server asks of its clients. */
  retryAfterMs?: number;
}

/**
 * The one error type of ngx-fresh-token, on every entry: the core and the Angular entries throw and
 * emit it, the server entries (`ngx-fresh-token/bff`, `…/oauth/server`) too, so `instanceof
 * FreshTokenError` and `code` work the same everywhere. `code` is a stable string (`NFT` + three
 * digits, documented in the README); the message says how to fix the problem and never contains a
 * token, refresh token, client secret or cookie value.
 *
 * @example
 * auth.events$.subscribe((e) => e.error && console.warn(e.error.code));
 */
export class FreshTokenError extends Error {
  /** `true` when a later attempt may succeed. */
  readonly transient: boolean;
  /** The HTTP status involved, if any (see {@link FreshTokenErrorDetails.status}). */
  readonly status?: number;
  /** The wait before the next attempt, in ms, if any. */
  readonly retryAfterMs?: number;

  constructor(
    /** Stable code (`NFT101`, `NFT202`, …). */
    readonly code: string,
    message: string,
    details: FreshTokenErrorDetails = {},
  ) {
    super(message ? `${code}: ${message}` : code);
    this.name = 'FreshTokenError';
    this.transient = details.transient ?? false;
    if (details.status !== undefined) this.status = details.status;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}
