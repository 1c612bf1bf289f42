/*
 * Public API of ngx-fresh-token/internal: the Angular-free rules the core and every entry share —
 * one error class, one HTTP failure classifier, one refresh-buffer rule for short-lived tokens, one
 * SHA-256/base64url helper, one rule for what a token in a header may hold. The core re-exports what apps use (FreshTokenError, classifyHttpError,
 * effectiveBufferMs); the server entries (bff, oauth/server), which must not load Angular, import
 * them from here. Internal: for this package's own entries; its names may change in a minor version.
 */
export { FreshTokenError } from './error';
export type { FreshTokenErrorDetails } from './error';
export { classifyHttpError, isConfigurationError, parseRetryAfterMs } from './http-failure';
export type { HttpErrorClassification } from './http-failure';
export { effectiveBufferMs } from './refresh-buffer';
export { isUsableDpopNonce } from './dpop-nonce';
export { isHeaderSafeToken } from './header-safe';
export { sha256Base64Url, toBase64Url } from './sha256';
