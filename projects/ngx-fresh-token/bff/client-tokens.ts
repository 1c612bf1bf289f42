// The BFF's own tokens (OAuth client credentials, RFC 6749 §4.4) for proxied APIs of token type
// `client` and `user-or-client`: one per API (resource/scope) and process, fetched through openid-client,
// shared by every request (single flight), handed out again while it has more than the buffer left (the
// one short-token rule), never cached when the IdP fails. A service identity, never a user's.
import { effectiveBufferMs } from 'ngx-fresh-token/internal';
import { classifyGrantFailure, client, type GrantErrors, type OidcConfiguration } from './oidc';
import type { ResolvedBffOptions } from './options';
import { bffError, BffErrorCode } from './errors';
import type { TokenBinding } from './dpop';
import { retryAfterSecondsOf } from './refresh';
import type { CachedToken } from './sessions';

/** What an API's client token is for. */
export interface ClientTokenTarget {
  resource?: string;
  scope?: string;
}

/** The client-credentials tokens of one BFF. */
export interface ClientTokens {
  /** A token for `target`; `forceRefresh` with the token a caller holds drops it first (an API rejected it). Rejects with a coded error. */
  get(target: ClientTokenTarget, forceRefresh?: { replaces: string }): Promise<CachedToken>;
}

/** Makes the {@link ClientTokens} of one BFF. */
export function createClientTokens(options: ResolvedBffOptions, config: OidcConfiguration, grantErrors: GrantErrors, binding: TokenBinding): ClientTokens {
  const cache = new Map<string, { token?: CachedToken; pending?: Promise<CachedToken>; lastAttemptAt?: number }>();
  /** Until when the IdP asked for a pause (its Retry-After on a 429 or 503). */
  let pausedUntil = 0;
  const usable = (t: CachedToken) =>
    t.expiresAt === null || t.expiresAt - options.now() > effectiveBufferMs(options.refreshBufferMs, t.issuedAt === undefined ? null : t.expiresAt - t.issuedAt);
  const alive = (t: CachedToken | undefined): t is CachedToken => !!t && (t.expiresAt === null || t.expiresAt > options.now());
  const notNow = (waitMs: number) =>
    bffError(BffErrorCode.IdpUnavailable, 'the client token was asked for a moment ago, or the identity provider asked for a pause; try again shortly.', {
      status: 503,
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
    });

  return {
    get(target, forceRefresh) {
      const key = JSON.stringify([target.resource ?? null, target.scope ?? null]);
      let entry = cache.get(key);
      if (!entry) cache.set(key, (entry = {}));
      const slot = entry;
      const forced = !!slot.token && !!forceRefresh && slot.token.accessToken === forceRefresh.replaces;
      if (slot.token && !forced && usable(slot.token)) return Promise.resolve(slot.token);
      if (slot.pending) return slot.pending;
      // The bound, as for user tokens: at most one grant per minRefreshIntervalMs per API (failures
      // count), none while the IdP asked for a pause; meanwhile the token held, while it lives.
      const now = options.now();
      const wait = Math.max(options.minRefreshIntervalMs > 0 && slot.lastAttemptAt !== undefined ? slot.lastAttemptAt + options.minRefreshIntervalMs - now : 0, pausedUntil - now);
      if (wait > 0) {
        if (alive(slot.token)) return Promise.resolve(slot.token);
        return Promise.reject(notNow(wait));
      }
      slot.lastAttemptAt = now;
      const params = new URLSearchParams();
      if (target.resource) params.set('resource', target.resource);
      if (target.scope) params.set('scope', target.scope);
      slot.pending = client
        .clientCredentialsGrant(config, params, binding.grantOptions)
        .then(
          (response) => {
            slot.token = binding.tokenOf(response, options.now());
            return slot.token;
          },
          async (err: unknown) => {
            const pause = retryAfterSecondsOf(err, Date.now());
            if (pause !== null) pausedUntil = Math.max(pausedUntil, options.now() + pause * 1000);
            // invalid_client → NFT410 (logged once); anything else is the IdP's bad moment: 503, nothing cached.
            const kind = await classifyGrantFailure(err);
            throw grantErrors.errorFor(kind === 'client' ? 'client' : 'unavailable');
          },
        )
        .finally(() => {
          slot.pending = undefined;
        });
      return slot.pending;
    },
  };
}
