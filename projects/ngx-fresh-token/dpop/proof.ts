// DPoP proofs (RFC 9449 §4) signed by jose's SignJWT with the non-extractable private key: no
// hand-written JWS here. A proof names the method (`htm`), the URL without query and fragment (`htu`),
// when (`iat`), a unique id (`jti`), and — with an access token — the token's hash (`ath`) and the
// server's nonce when it gave one.
import { SignJWT, exportJWK } from 'jose';
import { sha256Base64Url } from 'ngx-fresh-token/internal';
import type { JWK } from 'jose';
import { randomId } from './key-store';

/** @internal The public half of a key pair as the proof's `jwk` header (only the members RFC 7518 names for EC keys). */
export async function ɵpublicJwk(publicKey: CryptoKey): Promise<JWK> {
  const { kty, crv, x, y } = await exportJWK(publicKey);
  return { kty, crv, x, y };
}

/**
 * @internal `url` as a proof's `htu`: the HTTP URI without query and fragment (RFC 9449 §4.2), as a verifier
 * normalizes its own request URI — absolute, lower-case scheme and host, no default port (the URL parser
 * does these), no userinfo (credentials must never go into a signed proof that servers log), and no
 * trailing dot of a fully qualified host name (`api.example.com.` is `api.example.com` to the API, which
 * checks htu against its configured URL).
 */
export function ɵhtu(url: string, base?: string): URL {
  const parsed = new URL(url, base);
  parsed.search = '';
  parsed.hash = '';
  parsed.username = '';
  parsed.password = '';
  if (parsed.hostname.length > 1 && parsed.hostname.endsWith('.')) parsed.hostname = parsed.hostname.slice(0, -1);
  return parsed;
}

/** @internal The `ath` of `accessToken`: base64url SHA-256 of its ASCII bytes (RFC 9449 §4.2). */
export function ɵath(accessToken: string): Promise<string> {
  return sha256Base64Url(accessToken);
}

/** @internal What one proof is made of. */
export interface ɵProofClaims {
  htm: string;
  htu: string;
  iatSeconds: number;
  ath?: string;
  nonce?: string;
}

/** @internal Signs one proof (ES256, `typ: dpop+jwt`, the public key in `jwk`) with a fresh `jti`. */
export function ɵsignProof(privateKey: CryptoKey, jwk: JWK, { htm, htu, iatSeconds, ath, nonce }: ɵProofClaims): Promise<string> {
  const claims: Record<string, string> = { htm, htu, jti: randomId() };
  if (ath) claims['ath'] = ath;
  if (nonce) claims['nonce'] = nonce;
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).setIssuedAt(iatSeconds).sign(privateKey);
}
