// DPoP (RFC 9449) for the BFF: one key pair shared by every instance signs a proof for each token
// request (code, refresh, client credentials) and each proxied request, so the tokens the IdP issues are
// bound to it (`cnf.jkt`) and useless to anyone who copies them without the key. Proofs and nonces are
// openid-client's (its DPoP handle: one per key, remembering the servers' nonces per origin); this file
// only imports the keys and keeps one handle per key, found by the token's thumbprint after a rotation.
import { isUsableDpopNonce } from 'ngx-fresh-token/internal';
import { bffError, BffErrorCode } from './errors';
import { client, type OidcConfiguration } from './oidc';
import { cachedTokenOf } from './refresh';
import type { CachedToken } from './sessions';

/**
 * A DPoP key of {@link BffDpopOptions}: a private JWK (holding its public part), or a `CryptoKey` pair.
 *
 * @example
 * const key: BffDpopKey = JSON.parse(process.env['DPOP_PRIVATE_JWK']!); // { kty: 'EC', crv: 'P-256', x, y, d }
 */
export type BffDpopKey = JsonWebKey | { privateKey: CryptoKey; publicKey: CryptoKey };

/**
 * DPoP for every token the BFF gets and every call its proxy makes (`createBff({ dpop })`).
 *
 * @example
 * createBff({ ...options, dpop: { privateKey: JSON.parse(process.env['DPOP_PRIVATE_JWK']!) } });
 */
export interface BffDpopOptions {
  /** The current key: ES256 (P-256) or stronger (ES384, ES512, EdDSA/Ed25519, RSA ≥ 2048). The same on every instance. */
  privateKey: BffDpopKey;
  /** Keys it replaced, kept while tokens bound to them may still be in use (rotation): they sign proofs for those tokens only. */
  previousKeys?: readonly BffDpopKey[];
}

/** The DPoP keys of one BFF, as openid-client handles. */
export interface DpopKeys {
  /** The handle of the current key: every new token request uses it. */
  current: client.DPoPHandle;
  /** The current key's JWK thumbprint (the `cnf.jkt` of the tokens it binds; `dpop_jkt` at the login). */
  jkt: string;
  /** The handle of the key a token is bound to (by its thumbprint), if this BFF holds it. */
  handleFor(jkt: string): client.DPoPHandle | undefined;
  /**
   * An openid-client configuration for one call to a resource server through `fetch` (the proxy's own
   * transport, which streams and enforces its timeout): openid-client adds the proof and retries once on a nonce.
   */
  resourceConfig(fetch: client.CustomFetch): client.Configuration;
  /**
   * `Authorization: DPoP …` and a proof for one request made outside openid-client's fetch (a WebSocket
   * handshake), by the handle of the key `token` is bound to; `null` when this BFF does not hold that key.
   */
  proofHeaders(token: { accessToken: string; jkt: string }, url: URL, method: string): Promise<Record<string, string> | null>;
  /** Remembers a server's `DPoP-Nonce` (answered outside openid-client's fetch) for the key's next proofs to its origin. */
  rememberNonce(jkt: string, url: URL, nonce: string): void;
}

/**
 * The two methods every openid-client DPoP handle has (oauth4webapi's DPoPHandler) beyond its typed
 * `calculateThumbprint`: the same proof and nonce cache openid-client's own requests use.
 */
interface ProofMaker {
  addProof(url: URL, headers: Headers, htm: string, accessToken?: string): Promise<void>;
  cacheNonce(response: Response, url: URL): void;
}

function proofMaker(handle: client.DPoPHandle): ProofMaker {
  const maker = handle as unknown as Partial<ProofMaker>;
  if (typeof maker.addProof !== 'function' || typeof maker.cacheNonce !== 'function') {
    throw bffError(BffErrorCode.InvalidOption, 'createBff(): option "dpop" needs openid-client 6 with DPoP handles that make proofs (addProof); update openid-client.');
  }
  return maker as ProofMaker;
}

const invalidKey = (why: string) =>
  bffError(BffErrorCode.InvalidOption, `createBff(): option "dpop.privateKey" ${why}. To fix the problem, see the README's DPoP section.`);

/** The WebCrypto algorithm of a JWK suitable for DPoP, or throws NFT401. */
function algorithmOf(jwk: JsonWebKey): EcKeyImportParams | RsaHashedImportParams | Algorithm {
  if (jwk.kty === 'EC' && (jwk.crv === 'P-256' || jwk.crv === 'P-384' || jwk.crv === 'P-521')) return { name: 'ECDSA', namedCurve: jwk.crv };
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return { name: 'Ed25519' };
  if (jwk.kty === 'RSA' && typeof jwk.n === 'string' && jwk.n.length >= 342) return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  throw invalidKey('must be an EC P-256/P-384/P-521, Ed25519 or RSA (≥ 2048 bits) key');
}

/** The parameters to sign and verify with a key of one of the accepted algorithms, or throws NFT401. */
function signingParams(key: CryptoKey): Algorithm | EcdsaParams {
  const algorithm = key.algorithm as Partial<EcKeyAlgorithm & RsaHashedKeyAlgorithm>;
  if (algorithm.name === 'ECDSA' && ['P-256', 'P-384', 'P-521'].includes(algorithm.namedCurve ?? '')) {
    return { name: 'ECDSA', hash: { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' }[algorithm.namedCurve as 'P-256'] };
  }
  if (algorithm.name === 'Ed25519') return { name: 'Ed25519' };
  // The modulus as WebCrypto imported it (a JWK's `n` can be padded with leading zeros).
  if ((algorithm.name === 'RSASSA-PKCS1-v1_5' || algorithm.name === 'RSA-PSS') && (algorithm.modulusLength ?? 0) >= 2048) {
    return algorithm.name === 'RSA-PSS' ? ({ name: 'RSA-PSS', saltLength: 32 } as Algorithm) : { name: algorithm.name };
  }
  throw invalidKey('must be an EC P-256/P-384/P-521, Ed25519 or RSA (≥ 2048 bits) key');
}

async function keyPairOf(key: BffDpopKey): Promise<CryptoKeyPair> {
  let pair: CryptoKeyPair;
  if (typeof key === 'object' && key !== null && 'privateKey' in key && 'publicKey' in key) {
    const given = key as { privateKey: CryptoKey; publicKey: CryptoKey };
    if (given.privateKey?.type !== 'private' || given.publicKey?.type !== 'public') throw invalidKey('must be a private JWK or { privateKey, publicKey } CryptoKeys');
    pair = given;
    // An extractable private key is imported again, not extractable: the key material stays in WebCrypto.
    if (pair.privateKey.extractable) {
      try {
        const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
        pair = { privateKey: await crypto.subtle.importKey('jwk', jwk, pair.privateKey.algorithm as EcKeyImportParams, false, ['sign']), publicKey: pair.publicKey };
      } catch {
        throw invalidKey('could not be imported');
      }
    }
  } else {
    const jwk = key as JsonWebKey;
    if (typeof jwk !== 'object' || jwk === null || typeof jwk.d !== 'string') throw invalidKey('must be a private JWK (with "d") or { privateKey, publicKey } CryptoKeys');
    const algorithm = algorithmOf(jwk);
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, key_ops: _ops, ...publicJwk } = jwk;
    try {
      const privateKey = await crypto.subtle.importKey('jwk', { ...jwk, key_ops: ['sign'] }, algorithm, false, ['sign']);
      const publicKey = await crypto.subtle.importKey('jwk', { ...publicJwk, key_ops: ['verify'] }, algorithm, true, ['verify']);
      pair = { privateKey, publicKey };
    } catch {
      throw invalidKey('could not be imported');
    }
  }
  // The algorithm and size of what WebCrypto holds, and one signature: the two halves must be one pair.
  const params = signingParams(pair.privateKey);
  signingParams(pair.publicKey);
  const probe = new TextEncoder().encode('ngx-fresh-token DPoP key check');
  let matches = false;
  try {
    matches = await crypto.subtle.verify(params, pair.publicKey, await crypto.subtle.sign(params, pair.privateKey, probe), probe);
  } catch {
    matches = false;
  }
  if (!matches) throw invalidKey('and its public key are not one key pair (a signature made with it does not verify)');
  return pair;
}

/** Imports the DPoP keys (the key material never leaves WebCrypto: the private keys are not extractable). */
export async function createDpopKeys(options: BffDpopOptions, config: OidcConfiguration, clientId: string): Promise<DpopKeys> {
  const byJkt = new Map<string, client.DPoPHandle>();
  let current: { handle: client.DPoPHandle; jkt: string } | undefined;
  for (const key of [options.privateKey, ...(options.previousKeys ?? [])]) {
    const handle = client.getDPoPHandle(config, await keyPairOf(key));
    const jkt = await handle.calculateThumbprint();
    if (!byJkt.has(jkt)) byJkt.set(jkt, handle);
    current ??= { handle, jkt };
  }
  const server = config.serverMetadata();
  const resourceConfig = (fetch: client.CustomFetch) => {
    const resource = new client.Configuration(server, clientId, undefined, client.None());
    resource[client.customFetch] = fetch;
    // The transport enforces the API's timeoutMs; http targets are the app's choice (warned at startup).
    resource.timeout = 0;
    client.allowInsecureRequests(resource);
    return resource;
  };
  for (const handle of byJkt.values()) proofMaker(handle);
  return {
    current: current!.handle,
    jkt: current!.jkt,
    handleFor: (jkt) => byJkt.get(jkt),
    resourceConfig,
    async proofHeaders(token, url, method) {
      const handle = byJkt.get(token.jkt);
      if (!handle) return null;
      const headers = new Headers();
      await proofMaker(handle).addProof(url, headers, method, token.accessToken);
      return { authorization: `DPoP ${token.accessToken}`, dpop: headers.get('dpop')! };
    },
    rememberNonce(jkt, url, nonce) {
      const handle = byJkt.get(jkt);
      if (handle && isUsableNonce(nonce)) proofMaker(handle).cacheNonce(new Response(null, { headers: { 'dpop-nonce': nonce } }), url);
    },
  };
}

/** Whether a server's `DPoP-Nonce` is one the BFF keeps (the package's one rule, `isUsableDpopNonce`). */
export const isUsableNonce = isUsableDpopNonce;

/** Whether a token-endpoint answer is a DPoP-bound token (its `token_type`). */
export const isDpopBound = (response: { token_type?: string }) => typeof response.token_type === 'string' && response.token_type.toLowerCase() === 'dpop';

/**
 * How the BFF's token requests use DPoP: the options for openid-client's grants (a proof, and one retry
 * with the IdP's nonce — before the IdP looks at the code or refresh token, so nothing is spent twice),
 * and the cached token of an answer (with `jkt` when the IdP bound it).
 */
export interface TokenBinding {
  /** `{ DPoP }` for openid-client's grants; `undefined` without DPoP. */
  readonly grantOptions: client.DPoPOptions | undefined;
  /** The current key's thumbprint (`dpop_jkt` of the authorization request); `undefined` without DPoP. */
  readonly jkt: string | undefined;
  /** The cached token of a token-endpoint answer. */
  tokenOf(response: { access_token: string; expires_in?: number; token_type?: string }, nowMs: number): CachedToken;
}

/** The {@link TokenBinding} of a BFF (`keys`: `null` without DPoP); an unbound answer despite a proof is logged once. */
export function tokenBinding(keys: DpopKeys | null, logger: { warn(message: string): void }): TokenBinding {
  if (!keys) return { grantOptions: undefined, jkt: undefined, tokenOf: cachedTokenOf };
  let unboundWarned = false;
  return {
    grantOptions: { DPoP: keys.current },
    jkt: keys.jkt,
    tokenOf(response, nowMs) {
      const token = cachedTokenOf(response, nowMs);
      if (isDpopBound(response)) return { ...token, jkt: keys.jkt };
      if (!unboundWarned) {
        unboundWarned = true;
        logger.warn('ngx-fresh-token/bff: the identity provider answered a DPoP token request with a Bearer token (is DPoP enabled for this client?); the token is used as a bearer token. (Logged once.)');
      }
      return token;
    },
  };
}
