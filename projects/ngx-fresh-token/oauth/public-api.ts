/*
 * Public API of ngx-fresh-token/oauth: OAuth 2 refresh-token and client-credentials sources and a
 * session-endpoint (backend-for-frontend) source. The server side of that endpoint is in
 * ngx-fresh-token/oauth/server (re-exported here, deprecated, for one minor version).
 */
export { withClientCredentials } from './client-credentials';
export type { ClientCredentialsOptions } from './client-credentials';
export { OAuthErrorCode } from './errors';
export type { OAuthErrorCodeValue } from './errors';
export { DEFAULT_REFRESH_TOKEN_STORAGE_KEY, OAuthSession, withOAuthRefreshToken } from './refresh-token';
export type { OAuthRefreshTokenOptions, OAuthSignInTokens, RefreshTokenStorage } from './refresh-token';
export { withSessionEndpoint } from './session-endpoint';
export type { SessionEndpointOptions } from './session-endpoint';
export { SESSION_FORCE_REFRESH_HEADER } from 'ngx-fresh-token/oauth/server';
export { createSessionTokenHandler } from './session-token-handler';
export type { IssuedAccessToken, SessionTokenHandlerOptions } from './session-token-handler';
export { DEFAULT_TOKEN_REQUEST_TIMEOUT_MS } from './token-endpoint';
export type { OAuthTokenResponse, TokenRequestTimeoutOptions } from './token-endpoint';
