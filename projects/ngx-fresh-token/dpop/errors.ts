/**
 * Stable error codes added by `ngx-fresh-token/dpop` (NFT7xx), carried by the core's `FreshTokenError`;
 * the string values never change between releases.
 *
 * @example
 * if (err instanceof FreshTokenError && err.code === DpopErrorCode.KeyUnavailable) showUnsupportedBrowser();
 */
export const DpopErrorCode = {
  /**
   * No DPoP key: the browser lacks WebCrypto (an insecure origin) or IndexedDB (some private modes), or
   * the key could not be created or loaded — and `withDpop()` was not told to fall back to bearer.
   */
  KeyUnavailable: 'NFT701',
  /** `withDpop()` or `injectDpop()` got an unusable option, or `injectDpop()` found no `withDpop()` for the token. */
  InvalidDpopOption: 'NFT702',
  /** A token request sent with a proof got a token that is not DPoP-bound (`token_type` other than `DPoP`): the server ignored the proof. */
  UnboundToken: 'NFT703',
  /**
   * The token endpoint refused the proof (`invalid_dpop_proof`) again after one retry with the clock set
   * by its `Date` header: transient — the session, its refresh token and the key are kept, the next
   * refresh tries again. Check the device clock and that the server exposes `Date` (CORS).
   */
  ProofRejected: 'NFT704',
} as const;

/**
 * Union of the {@link DpopErrorCode} values.
 *
 * @example
 * const code: DpopErrorCodeValue = DpopErrorCode.KeyUnavailable;
 */
export type DpopErrorCodeValue = (typeof DpopErrorCode)[keyof typeof DpopErrorCode];
