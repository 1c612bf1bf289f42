/*
 * Public API of ngx-fresh-token (core entry: no optional dependencies).
 */
export { AuthService } from './lib/auth.service';
export { injectAuth, withApiToken } from './lib/api-token';
export type { ApiUrlRule } from './lib/api-token';
export { DEFAULT_REFRESH_RETRY, backoffDelayMs } from './lib/backoff';
export { withBffProxy } from './lib/bff-proxy';
export { withBffSession } from './lib/bff-session';
export type { BffSessionOptions } from './lib/bff-session';
export type { RefreshRetryPolicy } from './lib/backoff';
export { FRESH_TOKEN_CLOCK } from './lib/clock';
export type { FreshTokenClock, FreshTokenTimerHandle } from './lib/clock';
export { SKIP_FRESH_TOKEN, TRANSFER_AUTHENTICATED_RESPONSE } from './lib/context';
export type { CrossTabSyncOptions } from './lib/cross-tab';
export { FreshTokenError, FreshTokenErrorCode, classifyHttpError, toFreshTokenError } from './lib/errors';
export type { FreshTokenErrorCodeValue, FreshTokenErrorDetails, HttpErrorClassification } from './lib/errors';
export { SIGNED_IN_GUARD_RETURN_URL_PARAM, signedInGuard } from './lib/guard';
export type { SignedInGuardOptions } from './lib/guard';
export { freshTokenInterceptor } from './lib/interceptor';
// Only what apps and integrations use; the rest of the lifetime arithmetic stays internal (its specs import it directly).
export { DEFAULT_MIN_VALIDITY_MS, DEFAULT_REFRESH_BUFFER_MS, effectiveBufferMs, readJwtTimes } from './lib/lifetime';
export type { TokenStatus } from './lib/lifetime';
export {
  FreshTokenFeatureKind,
  provideFreshToken,
  withAuthHeader,
  withAuthorizedUrls,
  withAutoRefresh,
  withCrossTabSync,
  withMinValidity,
  withRefreshBuffer,
  withRefreshRetry,
  withTokenSource,
} from './lib/provider';
export type { FreshTokenFeature } from './lib/provider';
export type { SignOutRequest, TokenEvent, TokenGrant, TokenRequest, TokenSource, TokenState } from './lib/token';
export type { UrlMatcher } from './lib/url-matcher';
export { FRESH_TOKEN_REFRESH_BUFFER_MS } from './lib/config';
export { retryOnUnauthorized } from './lib/unauthorized-retry';
export { DEFAULT_SERVER_RENDER_RETRY, FRESH_TOKEN_SERVER_SESSION, FRESH_TOKEN_SESSION_SNAPSHOT_KEY, withServerRendering } from './lib/server-render';
export type { ServerRenderingOptions, ServerSession, SessionSnapshot } from './lib/server-render';
