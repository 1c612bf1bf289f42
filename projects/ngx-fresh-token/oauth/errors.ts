/**
 * Stable error codes added by `ngx-fresh-token/oauth` (NFT3xx). They are carried by the core's
 * `FreshTokenError`; the string values never change between releases.
 *
 * @example
 * if (err instanceof FreshTokenError && err.code === OAuthErrorCode.ClientSecretInBrowser) { ... }
 */
export const OAuthErrorCode = {
  /** `withClientCredentials()` ran in a browser, where a client secret must never be. */
  ClientSecretInBrowser: 'NFT301',
  /** The token or session endpoint answered 2xx with something that is not JSON or lacks the access token. */
  MalformedTokenResponse: 'NFT302',
  /** A `with…()` function of this entry got a missing or unusable option. */
  InvalidOAuthOption: 'NFT303',
  /** The token or session endpoint did not answer within `tokenRequestTimeoutMs`; the request was aborted. */
  TokenEndpointTimeout: 'NFT304',
  /** Dev-mode warning: `REQUEST_CONTEXT` of a server render is a Promise (`bff.renderContext()` passed without `await`). */
  RenderContextIsPromise: 'NFT305',
} as const;

/**
 * Union of the {@link OAuthErrorCode} values.
 *
 * @example
 * const code: OAuthErrorCodeValue = OAuthErrorCode.TokenEndpointTimeout;
 */
export type OAuthErrorCodeValue = (typeof OAuthErrorCode)[keyof typeof OAuthErrorCode];
