/**
 * Stable error codes of ngx-fresh-token. The string values never change between releases,
 * so an app may branch on them; the README lists each one with its fix.
 *
 * @example
 * if (err instanceof FreshTokenError && err.code === FreshTokenErrorCode.SessionEnded) { ... }
 */
export const FreshTokenErrorCode = {
  /** `provideFreshToken()` got no `withTokenSource(...)`. */
  NoTokenSource: 'NFT101',
  /** `provideFreshToken()` got the same feature (for example two token sources) twice. */
  DuplicateFeature: 'NFT102',
  /** `withRefreshBuffer()` got a negative or non-finite number. */
  InvalidRefreshBuffer: 'NFT103',
  /** `withAuthorizedUrls()` got a matcher that is not a URL, RegExp or function. */
  InvalidAuthorizedUrl: 'NFT104',
  /** `withAuthHeader()` or `withRefreshRetry()` got an unusable value. */
  InvalidOption: 'NFT105',
  /** `freshTokenInterceptor` or `AuthService` is used without `provideFreshToken()`. */
  NotProvided: 'NFT106',
  /** `withMinValidity()` got a negative or non-finite number, or one above the refresh buffer. */
  InvalidMinValidity: 'NFT107',
  /** `signedInGuard()` ran in a server render that has no request (a prerender, the app shell): a page for every user cannot depend on one user's session. */
  GuardedRouteWithoutRequest: 'NFT108',
  /** The token source failed transiently (network, 5xx, 429) and retries ran out. */
  RefreshFailed: 'NFT201',
  /** The token source rejected the session (400/401, `invalid_grant`): the user must sign in again. */
  SessionEnded: 'NFT202',
  /** The token source returned something that is not a `TokenGrant`. */
  InvalidGrant: 'NFT203',
  /** The access token looks like a JWT but cannot be decoded, or its `exp` is not a number. */
  MalformedToken: 'NFT204',
  /** The token source returned a token that had already expired. */
  ExpiredOnArrival: 'NFT205',
  /** One call to the token source took longer than the attempt timeout. */
  RefreshTimeout: 'NFT206',
} as const;

/** Union of the documented {@link FreshTokenErrorCode} values. */
export type FreshTokenErrorCodeValue = (typeof FreshTokenErrorCode)[keyof typeof FreshTokenErrorCode];

/** Extra facts carried by a {@link FreshTokenError}; none of them is ever a secret. */
export interface FreshTokenErrorDetails {
  /** `true` when a later attempt may succeed (network, 5xx, 429, timeout). */
  transient?: boolean;
  /** HTTP status of the failed token request, when there was one. */
  status?: number;
  /** Server-requested wait before the next attempt, from `Retry-After`. */
  retryAfterMs?: number;
}

/**
 * The only error type ngx-fresh-token throws or emits. `code` is a stable string from
 * {@link FreshTokenErrorCode}; the message explains how to fix the problem and never contains
 * a token, refresh token or client secret.
 *
 * @example
 * auth.events$.subscribe((e) => e.error && console.warn(e.error.code));
 */
export class FreshTokenError extends Error {
  /** `true` when a later attempt may succeed. */
  readonly transient: boolean;
  /** HTTP status of the failed token request, if any. */
  readonly status?: number;
  /** Wait requested by the server through `Retry-After`, in ms. */
  readonly retryAfterMs?: number;

  constructor(
    /** Stable code, see {@link FreshTokenErrorCode}. */
    readonly code: FreshTokenErrorCodeValue | (string & {}),
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

/**
 * Parses an HTTP `Retry-After` value (delta seconds or an HTTP date) into milliseconds
 * from `nowMs`; `undefined` when absent or unreadable.
 *
 * @example
 * parseRetryAfterMs('2', Date.now()); // 2000
 */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

interface HttpLikeError {
  status?: unknown;
  headers?: { get?(name: string): string | null } | Record<string, unknown>;
  error?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function readHeader(headers: HttpLikeError['headers'], name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name);
  }
  const value = (headers as Record<string, unknown>)[name] ?? (headers as Record<string, unknown>)[name.toLowerCase()];
  return typeof value === 'string' ? value : null;
}

/**
 * How an HTTP failure should be treated, as {@link classifyHttpError} decides it. Holds nothing
 * secret: no body text, no header other than `Retry-After`.
 *
 * @example
 * const { transient, retryAfterMs } = classifyHttpError(err, Date.now());
 */
export interface HttpErrorClassification {
  /** `true` when a later attempt may succeed: no HTTP answer (network error, status 0, unknown error), 408, 429 or 5xx. */
  transient: boolean;
  /** The HTTP status the error carries (`status`, or AWS SDK `$metadata.httpStatusCode`); `0` for a network error. */
  status?: number;
  /** The wait requested by `Retry-After` (seconds or HTTP date) on a transient answer, in ms from `nowMs`. */
  retryAfterMs?: number;
  /** The OAuth `error` name of the answer's body (`invalid_grant`, …) when it is a plain identifier; never `error_description`. */
  oauthError?: string;
}

const OAUTH_ERROR_NAME = /^[a-z_]{1,40}$/;

function readOAuthError(body: unknown): string | undefined {
  if (typeof body === 'string') {
    // Token endpoints are often read as text: look for `{"error": "..."}` in it.
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const name = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  return typeof name === 'string' && OAUTH_ERROR_NAME.test(name) ? name : undefined;
}

/**
 * The one rule for HTTP failures of token requests, shared by the core, the oauth entry and any
 * integration: no answer (status 0 or none), 408, 429 and 5xx are transient, with `Retry-After`
 * (delta seconds or an HTTP date) in ms; any other status (400, 401, `invalid_grant`,
 * `invalid_client`, …) is permanent. Reads `HttpErrorResponse`-like errors (`status`, `headers`,
 * `error` body as an object or JSON text) and AWS SDK errors (`$metadata.httpStatusCode`).
 *
 * @example
 * const c = classifyHttpError(new HttpErrorResponse({ status: 429, headers: new HttpHeaders({ 'Retry-After': '2' }) }), Date.now());
 * // c.transient === true, c.status === 429, c.retryAfterMs === 2000
 */
export function classifyHttpError(err: unknown, nowMs: number): HttpErrorClassification {
  const httpErr = (typeof err === 'object' && err !== null ? err : {}) as HttpLikeError;
  const rawStatus = httpErr.status ?? httpErr.$metadata?.httpStatusCode;
  const status = typeof rawStatus === 'number' ? rawStatus : undefined;
  if (status === undefined || status === 0) return { transient: true, status };
  const oauthError = readOAuthError(httpErr.error);
  if (!(status === 408 || status === 429 || status >= 500)) return { transient: false, status, oauthError };
  return { transient: true, status, retryAfterMs: parseRetryAfterMs(readHeader(httpErr.headers, 'Retry-After'), nowMs), oauthError };
}

/**
 * Turns whatever a token source threw into a {@link FreshTokenError}, deciding whether it
 * is transient with {@link classifyHttpError}: network failures, timeouts, 408, 429 and 5xx are;
 * 4xx answers and OAuth `invalid_grant` / `invalid_client` are not. Unknown errors count as
 * transient, so a bounded retry runs rather than ending a session on a glitch. Never copies the
 * original message, which could hold a secret.
 *
 * @example
 * const e = toFreshTokenError(new HttpErrorResponse({ status: 503 }), Date.now()); // e.transient === true
 */
export function toFreshTokenError(err: unknown, nowMs: number): FreshTokenError {
  if (err instanceof FreshTokenError) return err;
  const { transient, status, retryAfterMs, oauthError } = classifyHttpError(err, nowMs);
  if (status !== undefined && status !== 0) {
    return transient
      ? new FreshTokenError('NFT201', (typeof ngDevMode === 'undefined' || ngDevMode) ? `The token source answered HTTP ${status}.` : '', {
          transient,
          status,
          retryAfterMs,
        })
      : new FreshTokenError(
          'NFT202',
          (typeof ngDevMode === 'undefined' || ngDevMode) ? `The token source rejected the session (HTTP ${status}${oauthError ? `, ${oauthError}` : ''}). Sign in again.` : '',
          { status },
        );
  }
  const name = err instanceof Error ? err.name : '';
  return new FreshTokenError(
    'NFT201',
    typeof ngDevMode === 'undefined' || ngDevMode
      ? `The token source failed${name ? ` (${name})` : ''}${status === 0 ? ' with a network error' : ''}.`
      : '',
    { transient: true, status },
  );
}
