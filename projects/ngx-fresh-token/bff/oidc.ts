// Everything protocol goes through openid-client 6: discovery, PKCE/state/nonce, the code and
// refresh grants, RFC 7009 revocation, the end-session URL. This file only configures it and
// sorts its failures into the BFF's error codes.
import * as client from 'openid-client';
import { isConfigurationError } from 'ngx-fresh-token/internal';
import { bffError, BffErrorCode, FreshTokenError } from './errors';
import { withoutUnusableNonce } from './http';
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
    // openid-client's timeout is in seconds; fractions work (AbortSignal.timeout(timeout * 1000)).
    config.timeout = options.tokenRequestTimeoutMs / 1000;
    return config;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const reason = typeof code === 'string' ? ` (${code})` : '';
    throw bffError(BffErrorCode.DiscoveryFailed, `discovery of the issuer ${options.issuer.origin} failed${reason}. Check the issuer URL and that it serves /.well-known/openid-configuration.`);
  }
}

/**
 * What a failed token request means. Only the IdP's explicit verdict ends a session:
 * - `ended`: an OAuth error response with `error: invalid_grant` (the refresh token or code is dead);
 * - `client`: `invalid_client` / `unauthorized_client` (in the JSON body, or in a `WWW-Authenticate`
 *   challenge, which RFC 6749 §5.2 requires for Basic auth): a configuration error, the session is kept;
 * - `request`: `invalid_target` / `invalid_scope`: only what was asked is refused, the session is kept;
 * - `rejected`: the IdP answered, but its answer failed verification (an ID token's claims, nonce or
 *   timestamps): a login callback refuses it; a refresh keeps the session;
 * - `unavailable`: everything else — HTML or any other non-OAuth body at any status (a WAF's 403, a
 *   CDN's 404, an ingress's 408, a captive portal's 200), any other JSON error (`temporarily_unavailable`,
 *   `server_error`, none at all), 5xx, 429, timeouts (openid-client's `OAUTH_TIMEOUT`) and network errors.
 */
export type GrantFailure = 'ended' | 'client' | 'request' | 'rejected' | 'unavailable';

/** openid-client codes of an answer that arrived and failed verification (not an IdP outage). */
const VERIFICATION_FAILURES = new Set(['OAUTH_JWT_CLAIM_COMPARISON_FAILED', 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED', 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED', 'OAUTH_KEY_SELECTION_FAILED']);

/** The `error` of an OAuth error response (JSON body, or a `WWW-Authenticate` challenge), or `null` when the answer was none. */
async function oauthErrorOf(err: unknown): Promise<string | null> {
  if (err instanceof client.ResponseBodyError) return typeof err.error === 'string' ? err.error : null;
  // A challenge is an OAuth verdict only on a 400 or 401 (RFC 6749 §5.2); on a 5xx page it is no verdict.
  if (err instanceof client.WWWAuthenticateChallengeError && (err.status === 400 || err.status === 401)) {
    for (const challenge of err.cause) {
      const error = challenge.parameters?.['error'];
      if (typeof error === 'string' && error !== '') return error;
    }
    // A Basic challenge carries no `error`: the OAuth error is in the body, when the body is OAuth JSON.
    const response = (err as { response?: unknown }).response;
    if (typeof Response !== 'undefined' && response instanceof Response && response.status >= 400 && response.status < 500) {
      if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(response.headers.get('content-type') ?? '')) return null;
      try {
        const body: unknown = await response.clone().json();
        const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
        return typeof error === 'string' && error !== '' ? error : null;
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Sorts a failed token-endpoint call (see {@link GrantFailure}). */
export async function classifyGrantFailure(err: unknown): Promise<GrantFailure> {
  const error = await oauthErrorOf(err);
  if (error === 'invalid_grant') return 'ended';
  // invalid_dpop_proof: the IdP refused the BFF's own proof (its key, its algorithm, its clock): configuration.
  if (error === 'invalid_dpop_proof' || isConfigurationError(error ?? undefined, undefined)) return 'client';
  if (error === 'invalid_target' || error === 'invalid_scope') return 'request';
  if (error === null && err instanceof client.ClientError && typeof err.code === 'string' && VERIFICATION_FAILURES.has(err.code)) return 'rejected';
  return 'unavailable';
}

/**
 * The coded errors of one BFF for grant failures (never the IdP's text, which may echo parameters);
 * a refused client is logged once per BFF, not once per request.
 */
export function createGrantErrors(options: Pick<ResolvedBffOptions, 'logger'>) {
  let clientWarned = false;
  return {
    /** The error to answer with for `kind` (`ended` → 401 NFT406; `client` → 500 NFT410; `request` → 400 NFT411; else 503 NFT403). */
    errorFor(kind: GrantFailure): FreshTokenError {
      if (kind === 'ended') return bffError(BffErrorCode.SessionEnded, 'the identity provider rejected the refresh token; the session has ended.', { status: 401 });
      if (kind === 'request') {
        return bffError(BffErrorCode.TokenRequestRejected, 'the identity provider refused the resource or scope asked for; the session is kept.', { status: 400 });
      }
      if (kind === 'client') {
        if (!clientWarned) {
          clientWarned = true;
          options.logger.warn(
            `ngx-fresh-token/bff: ${BffErrorCode.ClientRejected}: the identity provider refused the client (invalid_client or unauthorized_client). Sessions are kept; check clientId, the secret or key and clientAuthMethod. (Logged once.)`,
          );
        }
        return bffError(BffErrorCode.ClientRejected, 'the identity provider refused the client (invalid_client or unauthorized_client); check clientId, the secret or key and clientAuthMethod.', { status: 500 });
      }
      // 'unavailable' and, for a refresh, 'rejected': the session is kept and the caller may try again.
      return bffError(BffErrorCode.IdpUnavailable, 'the identity provider did not answer in time, is unavailable or sent an answer that is not OAuth; try again shortly.', {
        status: 503,
        retryAfterSeconds: IDP_RETRY_AFTER_SECONDS,
      });
    },
  };
}

/** The grant-error factory of one BFF. */
export type GrantErrors = ReturnType<typeof createGrantErrors>;

/**
 * Watches the raw answers to refresh grants, so a rotated refresh token the IdP committed is not lost
 * when openid-client rejects the answer after the fact (an ID token that fails a claim or timestamp
 * check, say, with the IdP's clock ahead). Installed as the configuration's `customFetch`; it reads a
 * copy of the answer only while a redemption of that refresh token watches for it.
 */
export function installRotationCapture(config: OidcConfiguration) {
  const watching = new Map<string, { answer?: Promise<string | null> }>();
  config[client.customFetch] = async (url, init) => {
    // A DPoP-Nonce of the IdP goes into later proofs only when usable (the rule of the APIs' answers too).
    const response = withoutUnusableNonce(await fetch(url, init as RequestInit));
    const body = init.body;
    const watched = body instanceof URLSearchParams ? watching.get(body.get('refresh_token') ?? '') : undefined;
    if (watched && response.status === 200) {
      watched.answer = response
        .clone()
        .json()
        .then((json: unknown) => {
          const rotated = typeof json === 'object' && json !== null ? (json as { refresh_token?: unknown }).refresh_token : undefined;
          return typeof rotated === 'string' && rotated !== '' ? rotated : null;
        })
        .catch(() => null);
    }
    return response;
  };
  return {
    /** Watches the redemption of `refreshToken` until `done()`; `rotated()` is the refresh token of a 200 answer, if one came. */
    watch(refreshToken: string) {
      const slot: { answer?: Promise<string | null> } = {};
      watching.set(refreshToken, slot);
      return {
        rotated: async (): Promise<string | null> => (slot.answer ? slot.answer : null),
        done: () => {
          if (watching.get(refreshToken) === slot) watching.delete(refreshToken);
        },
      };
    },
  };
}

/** The rotation capture of one BFF. */
export type RotationCapture = ReturnType<typeof installRotationCapture>;

export { client };
