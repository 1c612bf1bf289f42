/*
 * Public API of ngx-fresh-token/dpop: DPoP (RFC 9449) for tokens the browser holds — a non-extractable
 * key in IndexedDB, proofs signed with jose (an optional peer dependency), nonces, and the core's
 * token-binding hook. Apps without it ship none of this.
 */
export { DpopErrorCode } from './errors';
export type { DpopErrorCodeValue } from './errors';
export { DEFAULT_DPOP_DATABASE, injectDpop, withDpop } from './with-dpop';
export type { DpopClient, DpopOptions } from './with-dpop';
