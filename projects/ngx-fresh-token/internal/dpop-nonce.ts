/**
 * Whether a server's `DPoP-Nonce` may go into proofs: RFC 9449's syntax (`1*NQCHAR`: visible ASCII but `"` and
 * `\\`) and at most 1 KB. Anything else is ignored (not remembered, no retry): a hostile or broken server must not
 * make every later proof to its origin huge. The one rule of the browser's `withDpop()` and the BFF.
 *
 * @example
 * isUsableDpopNonce('eyJ7S_zG.eyJH0-Z.HX4w-7v'); // true
 * isUsableDpopNonce('a"b'); // false
 */
export const isUsableDpopNonce = (nonce: string): boolean => nonce.length <= 1024 && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(nonce);
