/*
 * Public API of ngx-fresh-token/oauth: OAuth 2 refresh-token and client-credentials sources, a
 * session-endpoint (backend-for-frontend) source, and the server helper for that endpoint.
 */
export { withClientCredentials } from './client-credentials';
export type { ClientCredentialsOptions } from './client-credentials';
export { OAuthErrorCode } from './errors';
export type { OAuthErrorCodeValue } from './errors';
export { DEFAULT_REFRESH_TOKEN_STORAGE_KEY, OAuthSession, withOAuthRefreshToken } from './refresh-token';
export type { OAuthRefreshTokenOptions, OAuthSignInTokens, RefreshTokenStorage } from './refresh-token';
export { withSessionEndpoint } from './session-endpoint';
export type { SessionEndpointOptions } from './session-endpoint';
export { SESSION_FORCE_REFRESH_HEADER, createSessionTokenHandler } from './session-token-handler';
export type { IssuedAccessToken, SessionTokenHandlerOptions } from './session-token-handler';
export { DEFAULT_TOKEN_REQUEST_TIMEOUT_MS } from './token-endpoint';
export type { OAuthTokenResponse } from './token-endpoint';
