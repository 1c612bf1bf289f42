/**
 * Whether a token may go into an HTTP header as it is: visible ASCII only. Spaces, control characters or non-ASCII
 * break the request (and Node's fetch would echo the whole header in its error). The core's rule for a
 * `TokenGrant`, and what the oauth entry's process cache checks before it keeps a token.
 *
 * @example
 * isHeaderSafeToken('eyJhbGciOi.eyJzdWIi.c2ln'); // true
 * isHeaderSafeToken('tok\u0001'); // false
 */
export const isHeaderSafeToken = (value: string): boolean => /^[\x21-\x7e]+$/.test(value);
