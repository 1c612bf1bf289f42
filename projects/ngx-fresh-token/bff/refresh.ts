// The server-side refresh: one refresh-grant redemption per session at a time, however many tabs,
// renders or instances ask. The concurrency design, step by step:
//  1. Decide without I/O to the IdP: a cached token with more than the buffer left is handed out,
//     unless the call is forced for exactly that token (`X-Replaces-Token` = its SHA-256).
//  2. Single flight in this process: concurrent callers for the same session and token slot join
//     one promise; slots of one session are serialized (they share one rotating refresh token), and
//     calls for different resources or scopes are never merged into one answer.
//  3. The lock (stores that share sessions between processes implement `acquireLock`): one holder per
//     session. A waiter never redeems: it waits for the holder's write (`waitForUpdate`, bounded below
//     the lock's TTL), reads the stored answer, and answers 503 + Retry-After if none came in time.
//  4. The re-read: the holder reads the session again after taking the lock; if another flight or
//     instance already stored a token other than the one being replaced, that one is handed out.
//  5. The fence: the rotated tokens are written with compare-and-set on the session's version
//     before any caller sees the new access token; a holder whose lock lapsed cannot overwrite a
//     newer session (its write is refused and it hands out what the newer writer stored).
import { decodeJwt } from 'jose';
import { sha256 } from './crypto';
import { bffError, BffErrorCode } from './errors';
import { withTimeout } from './http';
import { classifyGrantFailure, client, grantError, type OidcConfiguration } from './oidc';
import type { ResolvedBffOptions } from './options';
import { tokenKey, type CachedToken, type LoadedSession, type SessionData, type Sessions } from './sessions';

/** Margin added to the token-request timeout to make the refresh lock's TTL. */
export const LOCK_MARGIN_MS = 5_000;

/** What a caller asks of {@link TokenIssuer.issue}. */
export interface IssueRequest {
  /** The caller must not get the token it holds. */
  forceRefresh: boolean;
  /** base64url SHA-256 of the token the caller holds (with `forceRefresh`). */
  replacesToken?: string | null;
  /** RFC 8707 resource of the token (default: the BFF's `resource` option). */
  resource?: string;
  /** Scope of the token (default: what the refresh token was granted). */
  scope?: string;
}

/** An access token handed out for a session. */
export interface IssuedToken {
  token: CachedToken;
}

/** Hands out access tokens for sessions, redeeming the refresh token once per session when needed. */
export interface TokenIssuer {
  /** The token, or `null` when the session has ended (deleted). Rejects with a coded 503/500 error. */
  issue(session: LoadedSession, request: IssueRequest): Promise<IssuedToken | null>;
}

/** Reads a JWT's `exp` (ms) without verifying it (jose's `decodeJwt`): only to know when to refresh. */
function jwtExpiresAt(token: string): number | null {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** A cached token from a token-endpoint response (`expires_in`, else the JWT `exp`). */
export function cachedTokenOf(response: { access_token: string; expires_in?: number }, nowMs: number): CachedToken {
  const expiresAt =
    typeof response.expires_in === 'number' && Number.isFinite(response.expires_in)
      ? nowMs + response.expires_in * 1000
      : jwtExpiresAt(response.access_token);
  return { accessToken: response.access_token, expiresAt, issuedAt: nowMs };
}

/**
 * The buffer of one token: `refreshBufferMs`, but at most half the token's lifetime, as the
 * browser's core does: a token that lives 20 s is handed out for its first 10 s, not never.
 */
export function tokenBufferMs(token: CachedToken, refreshBufferMs: number): number {
  if (token.expiresAt === null || token.issuedAt === undefined) return refreshBufferMs;
  return Math.min(refreshBufferMs, Math.max(0, (token.expiresAt - token.issuedAt) / 2));
}

/** Makes the {@link TokenIssuer} of one BFF. */
export function createTokenIssuer(options: ResolvedBffOptions, sessions: Sessions, config: OidcConfiguration): TokenIssuer {
  const flights = new Map<string, Promise<IssuedToken | null>>();
  const sessionChains = new Map<string, Promise<unknown>>();
  const lockTtlMs = options.tokenRequestTimeoutMs + LOCK_MARGIN_MS;
  // Waiters give up before the lock could lapse, so a waiter never outlives a dead holder's lock.
  const waitBudgetMs = lockTtlMs - 1_000;

  const fresh = (token: CachedToken | undefined): token is CachedToken =>
    !!token && (token.expiresAt === null || token.expiresAt - options.now() > tokenBufferMs(token, options.refreshBufferMs));
  /** A stored token the caller may have: fresh, and not the one being replaced. */
  const answerIn = (data: SessionData, slot: string, stale: string | null): IssuedToken | null => {
    const token = data.tokens[slot];
    return fresh(token) && token.accessToken !== stale ? { token } : null;
  };
  const busy = () =>
    bffError(BffErrorCode.RefreshBusy, 'another instance is refreshing this session and did not finish in time; try again shortly.', {
      status: 503,
      retryAfterSeconds: 1,
    });

  /** Serializes the flights of one session (its slots share one rotating refresh token). */
  function serialized<T>(key: string, run: () => Promise<T>): Promise<T> {
    const previous = sessionChains.get(key) ?? Promise.resolve();
    const next = previous.then(run, run);
    const tail = next.catch(() => undefined);
    sessionChains.set(key, tail);
    void tail.then(() => {
      if (sessionChains.get(key) === tail) sessionChains.delete(key);
    });
    return next;
  }

  /** Step 3: the lock, or the holder's answer read from the store. */
  async function acquire(key: string, slot: string, stale: string | null): Promise<{ release: () => Promise<void> } | { answer: IssuedToken | null }> {
    const store = options.store;
    if (!store.acquireLock) return { release: async () => undefined };
    const deadline = Date.now() + waitBudgetMs;
    for (;;) {
      const lock = await sessions.call((s) => s.acquireLock!(key, lockTtlMs));
      if (lock) return { release: () => sessions.call(() => lock.release()).catch(() => undefined) };
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw busy();
      const slice = Math.min(remaining, 1_000);
      // Waiting on the holder's write (pub/sub in Redis) or, without it, a short poll.
      const wait = store.waitForUpdate ? store.waitForUpdate(key, slice) : new Promise<void>((r) => setTimeout(r, Math.min(slice, 50)));
      await withTimeout(Promise.resolve(wait), slice + options.storeTimeoutMs, busy).catch((err) => {
        if (err?.code === BffErrorCode.RefreshBusy) throw err;
      });
      const again = await sessions.loadKey(key, false);
      if (!again) return { answer: null };
      const answer = answerIn(again.data, slot, stale);
      if (answer) return { answer };
    }
  }

  async function redeem(key: string, slot: string, stale: string | null, request: IssueRequest): Promise<IssuedToken | null> {
    const lock = await acquire(key, slot, stale);
    if ('answer' in lock) return lock.answer;
    try {
      // Step 4: the re-read.
      const current = await sessions.loadKey(key, false);
      if (!current) return null;
      const already = answerIn(current.data, slot, stale);
      if (already) return already;
      const refreshToken = current.data.refreshToken;
      if (!refreshToken) {
        await sessions.remove(key);
        options.onEvent({ type: 'session-ended', sessionKey: key, sub: current.data.sub });
        return null;
      }
      const params = new URLSearchParams();
      for (const r of request.resource ? [request.resource] : options.resource) params.append('resource', r);
      if (request.scope) params.set('scope', request.scope);
      let response: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
      try {
        response = await client.refreshTokenGrant(config, refreshToken, params);
      } catch (err) {
        const kind = classifyGrantFailure(err);
        if (kind !== 'ended') throw grantError(kind);
        // A holder whose lock lapsed may have lost to another instance that already rotated the
        // token: read once more before ending anything.
        const again = await sessions.loadKey(key, false);
        if (again && again.record.version !== current.record.version) {
          const answer = answerIn(again.data, slot, stale);
          if (answer) return answer;
        }
        await sessions.remove(key);
        options.onEvent({ type: 'session-ended', sessionKey: key, sub: current.data.sub });
        return null;
      }
      const token = cachedTokenOf(response, options.now());
      const data: SessionData = {
        ...current.data,
        refreshToken: response.refresh_token ?? refreshToken,
        tokens: { ...current.data.tokens, [slot]: token },
      };
      if (response.id_token) data.idToken = response.id_token;
      // Step 5: the fence. Stored before anyone gets the new access token.
      const { ok } = await sessions.replace(current, data);
      if (!ok) {
        const again = await sessions.loadKey(key, false);
        if (!again) return null;
        const answer = answerIn(again.data, slot, stale);
        if (answer) return answer;
        throw busy();
      }
      options.onEvent({ type: 'refresh', sessionKey: key, sub: current.data.sub, accessToken: token.accessToken });
      return { token };
    } finally {
      await lock.release();
    }
  }

  return {
    async issue(session, request) {
      const slot = tokenKey(request.resource, request.scope);
      const cached = session.data.tokens[slot];
      // Step 1.
      if (fresh(cached)) {
        if (!request.forceRefresh) return { token: cached };
        if (request.replacesToken && request.replacesToken !== (await sha256(cached.accessToken))) return { token: cached };
      }
      // Step 2.
      const flightKey = `${session.key}\n${slot}`;
      let flight = flights.get(flightKey);
      if (!flight) {
        const stale = cached?.accessToken ?? null;
        flight = serialized(session.key, () => redeem(session.key, slot, stale, request)).finally(() => flights.delete(flightKey));
        flights.set(flightKey, flight);
      }
      return flight;
    },
  };
}
