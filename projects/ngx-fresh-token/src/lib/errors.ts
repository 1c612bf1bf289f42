import { FreshTokenError, type FreshTokenErrorDetails, classifyHttpError, isConfigurationError } from 'ngx-fresh-token/internal';

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
  /** Dev-mode warning: a server render that needs cache headers (a session, an authenticated body) has no `RESPONSE_INIT`. */
  MissingResponseInit: 'NFT109',
  /** Dev-mode warning: a server render's request is `http://` for an app whose origin is `https://` on the same host — a TLS proxy Angular does not trust, so no token is attached. */
  UntrustedProxy: 'NFT110',
  /** `injectAuth(name)` named a token no `withApiToken()` declares. */
  UnknownApiToken: 'NFT111',
  /** Two tokens have a URL rule with the same prefix and the same (or overlapping) methods: which one a request gets would be a guess. */
  UrlRuleConflict: 'NFT112',
  /** Dev-mode warning, once per pair of rules: one URL matched the rules of two tokens and the ranking chose one. */
  UrlMatchedTwoTokens: 'NFT113',
  /** A proxied path (`withBffProxy()`) was requested during a server render: it is not sent (it would reach the app's own origin without the browser's cookie). */
  ProxiedInServerRender: 'NFT114',
  /** Dev-mode warning, once per rule: a function URL rule (`withAuthorizedUrls()`, `withApiToken()`) threw; it counts as no match. */
  UrlRuleThrew: 'NFT116',
  /** `withBffProxy()` got no path, or one `createBff()` would not proxy (not a path on the app's origin, dot segments, a query, `/` alone); or `withBffSession()` an unusable option. */
  InvalidProxyPath: 'NFT115',
  /** The token source failed transiently (network, 5xx, 408, 429) and retries ran out. */
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

/**
 * Union of the documented {@link FreshTokenErrorCode} values.
 *
 * @example
 * const code: FreshTokenErrorCodeValue = FreshTokenErrorCode.SessionEnded; // 'NFT202'
 */
export type FreshTokenErrorCodeValue = (typeof FreshTokenErrorCode)[keyof typeof FreshTokenErrorCode];

export { FreshTokenError, classifyHttpError, parseRetryAfterMs } from 'ngx-fresh-token/internal';
export type { FreshTokenErrorDetails, HttpErrorClassification } from 'ngx-fresh-token/internal';

/**
 * @internal The one place the core makes its errors, as Angular's `RuntimeError`: callers pass the
 * text as `(typeof ngDevMode === 'undefined' || ngDevMode) ? '…' : ''`, so production builds carry
 * the code only.
 */
export function ɵerror(code: string, message: string, details?: FreshTokenErrorDetails): FreshTokenError {
  return new FreshTokenError(code, message, details);
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
  const { transient, status, retryAfterMs, oauthError, code } = classifyHttpError(err, nowMs);
  // A configuration error keeps the code the server named (the BFF's NFT410): it is not about the session.
  const misconfigured = isConfigurationError(oauthError, code);
  return ɵerror(
    transient ? 'NFT201' : (misconfigured && code) || 'NFT202',
    (typeof ngDevMode === 'undefined' || ngDevMode)
      ? transient
        ? status
          ? `The token source answered HTTP ${status}.`
          : `The token source failed${err instanceof Error && err.name ? ` (${err.name})` : ''}${status === 0 ? ' with a network error' : ''}.`
        : misconfigured
          ? `The token source says it is misconfigured (HTTP ${status}, ${oauthError ?? code}); no retry is made. Check the client id, its secret and the server's configuration.`
          : `The token source rejected the session (HTTP ${status}${oauthError ? `, ${oauthError}` : ''}). Sign in again.`
      : '',
    transient ? { transient, status, retryAfterMs } : { status },
  );
}
