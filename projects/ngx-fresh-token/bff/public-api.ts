/*
 * Public API of ngx-fresh-token/bff: the server half of the backend-for-frontend pattern
 * (RFC 10017). Sign-in (authorization code + PKCE), server-side sessions, one refresh per session,
 * sign-out and back-channel logout, as Web `Request` → `Response` handlers on openid-client.
 * Imports nothing from Angular or the DOM.
 */
export { BffErrorCode, FreshTokenError } from './errors';
export type { BffErrorCodeValue } from './errors';
export type { BffApiOptions, BffClientAuthMethod, BffCookieOptions, BffEvent, BffOptions, BffRoutes, BffSessionOptions } from './options';
export { memorySessionStore } from './session-store';
export type { MemorySessionStoreOptions, SessionLock, SessionRecord, SessionStore } from './session-store';
export { createBff } from './bff';
export { safeReturnUrl } from './return-url';
export { BFF_SESSION_HEADER } from './proxy';
export type { BffProxyOptions, BffProxyTokenType, BffRequestInfo } from './proxy';
export type { BffDpopKey, BffDpopOptions } from './dpop';
export { WEBSOCKET_TOKEN_EXPIRED_CLOSE_CODE } from './websocket';
export type { BffUpgradeRequest, BffUpgradeSocket } from './websocket';
export type { BffNodeRequestInfo } from './node';
export type { Bff, BffAccessToken, BffAccessTokenOptions, BffSession } from './bff';
export { redisSessionStore } from './redis-session-store';
export type { RedisClientLike, RedisSessionStore, RedisSessionStoreOptions } from './redis-session-store';
