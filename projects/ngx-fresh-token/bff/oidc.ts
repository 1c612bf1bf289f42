// Everything protocol goes through openid-client 6: discovery, PKCE/state/nonce, the code and
// refresh grants, RFC 7009 revocation, the end-session URL. This file only configures it and
// sorts its failures into the BFF's error codes.
import * as client from 'openid-client';
import { bffError, BffErrorCode, FreshTokenError } from './errors';
import type { ResolvedBffOptions } from './options';

/** Seconds a client is told to wait (`Retry-After`) when the IdP is unavailable. */
export const IDP_RETRY_AFTER_SECONDS = 5;

/** The openid-client configuration of the BFF's client, after discovery. */
export type OidcConfiguration = client.Configuration;

function clientAuthentication(options: ResolvedBffOptions): client.ClientAuth {
  switch (options.clientAuthMethod) {
    case 'client_secret_post':
      return client.ClientSecretPost(options.clientSecret);
    case 'private_key_jwt':
      return client.PrivateKeyJwt(options.clientPrivateKey!.kid ? { key: options.clientPrivateKey!.key, kid: options.clientPrivateKey!.kid } : options.clientPrivateKey!.key);
    default:
      return client.ClientSecretBasic(options.clientSecret);
  }
}

/** Runs discovery once; throws `NFT402` (no secret, no body) when the issuer cannot be used. */
export async function discover(options: ResolvedBffOptions): Promise<OidcConfiguration> {
  const timeoutSeconds = Math.max(1, Math.ceil(options.tokenRequestTimeoutMs / 1000));
  try {
    const config = await client.discovery(
      options.issuer,
      options.clientId,
      { redirect_uris: [options.redirectUri.href], response_types: ['code'] },
      clientAuthentication(options),
      { execute: options.insecureHttpIssuer ? [client.allowInsecureRequests] : [], timeout: timeoutSeconds },
    );
    config.timeout = timeoutSeconds;
    return config;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const reason = typeof code === 'string' ? ` (${code})` : '';
    throw bffError(BffErrorCode.DiscoveryFailed, `discovery of the issuer ${options.issuer.origin} failed${reason}. Check the issuer URL and that it serves /.well-known/openid-configuration.`);
  }
}

/** What a failed token request means for the session. */
export type GrantFailure = 'ended' | 'unavailable' | 'client' | 'request' | 'unknown';

/**
 * Sorts a failure of a token-endpoint call: `invalid_grant` (and other 4xx answers about the
 * grant) ends the session; `invalid_client`/`unauthorized_client` is a configuration error;
 * `invalid_target`/`invalid_scope` refuse only what was asked; 5xx, 429, network errors and
 * timeouts are "unavailable" (the IdP gave no verdict); anything else is "unknown" (a refresh keeps
 * the session and answers 503 for it, a login callback refuses it).
 */
export function classifyGrantFailure(err: unknown): GrantFailure {
  if (err instanceof client.ResponseBodyError) {
    if (err.status >= 500 || err.status === 429) return 'unavailable';
    if (err.error === 'invalid_client' || err.error === 'unauthorized_client') return 'client';
    // About what was asked (a resource or scope), not about the grant: the session stays.
    if (err.error === 'invalid_target' || err.error === 'invalid_scope') return 'request';
    return 'ended';
  }
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (typeof Response !== 'undefined' && cause instanceof Response) {
    if (cause.status >= 500 || cause.status === 429) return 'unavailable';
    if (cause.status >= 400) return cause.status === 401 ? 'client' : 'ended';
  }
  const name = (err as { name?: unknown } | null)?.name;
  if (err instanceof TypeError || name === 'TimeoutError' || name === 'AbortError') return 'unavailable';
  return 'unknown';
}

/** The coded error for a grant failure (never the IdP's text, which may echo parameters). */
export function grantError(kind: GrantFailure): FreshTokenError {
  if (kind === 'ended') return bffError(BffErrorCode.SessionEnded, 'the identity provider rejected the refresh token; the session has ended.', { status: 401 });
  if (kind === 'request') {
    return bffError(BffErrorCode.TokenRequestRejected, 'the identity provider refused the resource or scope asked for; the session is kept.', { status: 400 });
  }
  if (kind === 'client') {
    return bffError(BffErrorCode.ClientRejected, 'the identity provider refused the client (invalid_client or unauthorized_client); check clientId, the secret or key and clientAuthMethod.', { status: 500 });
  }
  // 'unavailable' and 'unknown': the session is kept and the caller may try again.
  return bffError(BffErrorCode.IdpUnavailable, 'the identity provider did not answer in time or is unavailable; try again shortly.', {
    status: 503,
    retryAfterSeconds: IDP_RETRY_AFTER_SECONDS,
  });
}

export { client };
