// The server-side refresh: one refresh-grant redemption per session at a time, however many tabs,
// renders or instances ask. The concurrency design, step by step:
//  1. Decide without I/O to the IdP: a cached token with more than the buffer left is handed out,
//     unless the call is forced for exactly that token (`X-Replaces-Token` = its SHA-256). The bound:
//     within `minRefreshIntervalMs` of the slot's last redemption or failed attempt, no call redeems
//     (it gets the newest token while that one has not expired, else 503); while the IdP asked for a
//     pause (`Retry-After` on a 429/503), no session of this process redeems.
//  2. Single flight in this process: concurrent callers for the same session and token slot join
//     one promise; slots of one session are serialized (they share one rotating refresh token), and
//     calls for different resources or scopes are never merged into one answer.
//  3. The lock (stores that share sessions between processes implement `acquireLock`): one holder per
//     session, for token request timeout + 2 × store timeout + a margin (the holder's re-read, request
//     and compare-and-set all fit). A waiter never redeems: it waits for the holder's write
//     (`waitForUpdate`, bounded below the lock's TTL), reads the stored answer, and answers 503 +
//     Retry-After if none came in time.
//  4. The re-read: the holder reads the session again after taking the lock; if another flight or
//     instance already stored a token other than the one being replaced, that one is handed out.
//  5. The fence: the rotated tokens are written with compare-and-set on the session's version
//     before any caller sees the new access token; a holder whose lock lapsed cannot overwrite a
//     newer session (its write is refused and it hands out what the newer writer stored).
//  6. Never lose a rotation: before it asks the IdP, the holder writes an in-doubt marker (the session's
//     version, living `keptGrantMs`); an instance that finds the marker of the version it read does not
//     redeem (503), even once the lock has lapsed. A compare-and-set that fails (the store is down) is
//     retried within the lock's remaining time; if it still fails, the new grant is kept in this process
//     (bounded, `keptGrantMs`), the marker and the lock stay, and the grant is written in the background
//     and by the next call on this instance. A rotated refresh token in an answer that openid-client
//     rejects after the fact is stored too.
//  7. Only `invalid_grant` ends a session, and its delete is fenced on the version the holder read:
//     a session another writer moved on is never deleted by a stale verdict.
import { decodeJwt } from 'jose';
import { effectiveBufferMs, parseRetryAfterMs } from 'ngx-fresh-token/internal';
import { sha256 } from './crypto';
import { bffError, BffErrorCode } from './errors';
import { withTimeout } from './http';
import { classifyGrantFailure, client, type GrantErrors, type OidcConfiguration, type RotationCapture } from './oidc';
import type { ResolvedBffOptions } from './options';
import type { TokenBinding } from './dpop';
import { tokenKey, type CachedToken, type LoadedSession, type SessionData, type Sessions } from './sessions';

/** Margin added to what the lock holder does (token request + 2 store calls) to make the refresh lock's TTL. */
export const LOCK_MARGIN_MS = 5_000;
/** How many such grants this process keeps at most (the oldest goes first). */
export const MAX_PENDING_GRANTS = 1_000;
/** Pause between background attempts to store a kept grant. */
const PENDING_FLUSH_INTERVAL_MS = 1_000;
/** Most token slots (resource/scope pairs) one session caches; past it the oldest goes. */
export const MAX_TOKEN_SLOTS = 16;
/** Most sessions whose failed redemptions this process remembers (for the bound); the oldest go first. */
const MAX_REMEMBERED_FAILURES = 10_000;
/** The longest IdP `Retry-After` honoured, in seconds. */
const MAX_IDP_PAUSE_SECONDS = 300;

/** The store key of a session's in-doubt marker (a record holding only the version being redeemed). */
const inDoubtKey = (key: string) => `in-doubt:${key}`;

/** The seconds of a `Retry-After` header (delta or HTTP date) of a 429 or 503 answer from the IdP, when the error carries one. */
export function retryAfterSecondsOf(err: unknown, nowMs: number): number | null {
  const holder = err as { response?: unknown; cause?: unknown } | null;
  const response = holder?.response ?? holder?.cause;
  if (typeof Response === 'undefined' || !(response instanceof Response) || (response.status !== 429 && response.status !== 503)) return null;
  const ms = parseRetryAfterMs(response.headers.get('retry-after'), nowMs);
  return ms !== undefined && ms > 0 ? Math.min(Math.ceil(ms / 1000), MAX_IDP_PAUSE_SECONDS) : null;
}

/** The refresh lock's TTL: everything the holder does under it, plus a margin. */
export function refreshLockTtlMs(options: Pick<ResolvedBffOptions, 'tokenRequestTimeoutMs' | 'storeTimeoutMs'>): number {
  return options.tokenRequestTimeoutMs + 2 * options.storeTimeoutMs + LOCK_MARGIN_MS;
}

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
  /** The newest refresh token of a session this process knows of: a kept grant's, else the stored one (for revocation at sign-out). */
  refreshTokenOf(session: LoadedSession): string | undefined;
  /** Forgets what this process keeps for a session that ended. */
  forget(key: string): void;
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
 * The buffer of one token: `refreshBufferMs`, but at most half the token's lifetime (what it had left
 * when it arrived) — the one rule the browser's core and AppSync Events use too (`effectiveBufferMs`).
 */
export function tokenBufferMs(token: CachedToken, refreshBufferMs: number): number {
  return effectiveBufferMs(refreshBufferMs, token.expiresAt === null || token.issuedAt === undefined ? null : token.expiresAt - token.issuedAt);
}

/** A rotated grant this process could not store yet. */
interface PendingGrant {
  /** The version it replaces. */
  baseVersion: number;
  data: SessionData;
  sub: string;
  /** Epoch ms (real clock) after which it is dropped. */
  until: number;
  /** Lets go of the refresh lock kept while the grant is not stored. */
  release: () => Promise<void>;
  timer?: ReturnType<typeof setTimeout>;
}

/** What a write of a new grant came to. */
type Persisted = 'ok' | 'lost' | 'failed';

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Makes the {@link TokenIssuer} of one BFF. */
export function createTokenIssuer(
  options: ResolvedBffOptions,
  sessions: Sessions,
  config: OidcConfiguration,
  grantErrors: GrantErrors,
  capture: RotationCapture,
  binding: TokenBinding,
): TokenIssuer {
  const flights = new Map<string, Promise<IssuedToken | null>>();
  const sessionChains = new Map<string, Promise<unknown>>();
  const pending = new Map<string, PendingGrant>();
  const flushing = new Map<string, Promise<boolean>>();
  /** When each session's slots last failed to redeem (options' clock): the bound counts failures too. */
  const failedAt = new Map<string, Map<string, number>>();
  /** Until when the IdP asked this client to pause (its `Retry-After` on a 429 or 503). */
  let idpPausedUntil = 0;
  const lockTtlMs = refreshLockTtlMs(options);
  // Waiters give up before the lock could lapse, so a waiter never outlives a dead holder's lock.
  const waitBudgetMs = lockTtlMs - 1_000;
  let rejectedAnswerWarned = false;

  const fresh = (token: CachedToken | undefined): token is CachedToken =>
    !!token && (token.expiresAt === null || token.expiresAt - options.now() > tokenBufferMs(token, options.refreshBufferMs));
  /** Step 1's bound: a token redeemed less than `minRefreshIntervalMs` ago, not expired, is what a forced call gets. */
  /** Step 1's bound: ms until this slot may redeem again (0: now), from its last redemption or failed attempt and the IdP's pause. */
  const waitBeforeRedeeming = (key: string, slot: string, token: CachedToken | undefined): number => {
    const now = options.now();
    const last = Math.max(token?.issuedAt ?? -Infinity, failedAt.get(key)?.get(slot) ?? -Infinity);
    const interval = options.minRefreshIntervalMs > 0 ? last + options.minRefreshIntervalMs - now : 0;
    return Math.max(0, interval, idpPausedUntil - now);
  };
  const notNow = (waitMs: number) =>
    bffError(BffErrorCode.IdpUnavailable, 'this session redeemed or tried to redeem its refresh token a moment ago, or the identity provider asked for a pause; try again shortly.', {
      status: 503,
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
    });
  const rememberFailure = (key: string, slot: string) => {
    const slots = failedAt.get(key) ?? new Map<string, number>();
    failedAt.delete(key); // most recent last
    failedAt.set(key, slots.set(slot, options.now()));
    while (failedAt.size > MAX_REMEMBERED_FAILURES) failedAt.delete(failedAt.keys().next().value as string);
  };
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
  const storeUnavailable = () =>
    bffError(BffErrorCode.StoreUnavailable, 'the new tokens could not be stored yet; they are kept and stored as soon as the session store answers. Try again shortly.', {
      status: 503,
      retryAfterSeconds: 2,
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

  /** Step 3: the lock (with the real-clock time it must be let go by), or the holder's answer read from the store. */
  async function acquire(
    key: string,
    slot: string,
    stale: string | null,
  ): Promise<{ release: () => Promise<void>; deadline: number } | { answer: IssuedToken | null }> {
    const store = options.store;
    const started = Date.now();
    if (!store.acquireLock) return { release: async () => undefined, deadline: started + lockTtlMs - 1_000 };
    const deadline = started + waitBudgetMs;
    for (;;) {
      const takenAt = Date.now();
      const lock = await sessions.call((s) => s.acquireLock!(key, lockTtlMs));
      if (lock) return { release: () => sessions.call(() => lock.release()).catch(() => undefined), deadline: takenAt + lockTtlMs - 1_000 };
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

  /** Step 6: writes `data` over `current`, retrying a failed store call until `deadline` (real clock). */
  async function persist(current: LoadedSession, data: SessionData, deadline: number): Promise<Persisted> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await sessions.replace(current, data)).ok ? 'ok' : 'lost';
      } catch {
        const wait = Math.min(100 * 2 ** attempt, 1_000);
        if (Date.now() + wait + options.storeTimeoutMs > deadline) return 'failed';
        await pause(wait);
      }
    }
  }

  /** Step 6: keeps a grant that could not be stored, holding the lock, and tries to store it in the background. */
  function keep(key: string, current: LoadedSession, data: SessionData, release: () => Promise<void>): void {
    const previous = pending.get(key);
    if (previous) drop(key, previous);
    while (pending.size >= MAX_PENDING_GRANTS) {
      const [oldestKey, oldest] = pending.entries().next().value as [string, PendingGrant];
      drop(oldestKey, oldest);
    }
    const grant: PendingGrant = { baseVersion: current.record.version, data, sub: current.data.sub, until: Date.now() + options.keptGrantMs, release };
    pending.set(key, grant);
    schedule(key, grant);
  }

  function drop(key: string, grant: PendingGrant): void {
    if (pending.get(key) === grant) pending.delete(key);
    if (grant.timer !== undefined) clearTimeout(grant.timer);
    void grant.release();
  }

  function schedule(key: string, grant: PendingGrant): void {
    grant.timer = setTimeout(() => {
      grant.timer = undefined;
      void flush(key).then(
        (done) => {
          if (!done && pending.get(key) === grant) schedule(key, grant);
        },
        () => pending.get(key) === grant && schedule(key, grant),
      );
    }, PENDING_FLUSH_INTERVAL_MS);
    // A kept grant never keeps a process alive by itself (Node; other runtimes have no unref).
    (grant.timer as { unref?: () => void }).unref?.();
  }

  /**
   * Stores the kept grant of `key`, if any: `true` once nothing is kept any more (stored, landed
   * already, superseded, expired or the session is gone); `false` while the store still fails.
   * Concurrent callers share one attempt.
   */
  function flush(key: string): Promise<boolean> {
    let running = flushing.get(key);
    if (!running) {
      running = flushOnce(key).finally(() => flushing.delete(key));
      flushing.set(key, running);
    }
    return running;
  }

  async function flushOnce(key: string): Promise<boolean> {
    const grant = pending.get(key);
    if (!grant) return true;
    if (Date.now() > grant.until) {
      drop(key, grant);
      return true;
    }
    let current: LoadedSession | null;
    try {
      current = await sessions.loadKey(key, false);
    } catch {
      return false;
    }
    if (current && current.record.version === grant.baseVersion) {
      let ok: boolean;
      try {
        ok = (await sessions.replace(current, grant.data)).ok;
      } catch {
        return false;
      }
      if (!ok) return false; // another writer got in between: look again next time
      const token = Object.values(grant.data.tokens).sort((a, b) => (b.issuedAt ?? 0) - (a.issuedAt ?? 0))[0];
      options.onEvent({ type: 'refresh', sessionKey: key, sub: grant.sub, accessToken: token?.accessToken });
    }
    // Stored now; or the write had landed after all; or a newer one exists; or the session is gone.
    drop(key, grant);
    void clearMarker(key);
    return true;
  }

  /** Removes a session's in-doubt marker (best effort: a stale marker names an old version and is ignored). */
  function clearMarker(key: string): Promise<void> {
    return sessions.remove(inDoubtKey(key)).catch(() => undefined);
  }

  async function redeem(key: string, slot: string, stale: string | null, request: IssueRequest): Promise<IssuedToken | null> {
    const lock = await acquire(key, slot, stale);
    if ('answer' in lock) return lock.answer;
    let keepLock = false;
    try {
      // Step 4: the re-read.
      const current = await sessions.loadKey(key, false);
      if (!current) return null;
      const already = answerIn(current.data, slot, stale);
      if (already) return already;
      const refreshToken = current.data.refreshToken;
      if (!refreshToken) {
        if (await sessions.removeIfVersion(key, current.record.version)) options.onEvent({ type: 'session-ended', sessionKey: key, sub: current.data.sub });
        return null;
      }
      // DPoP: a grant whose tokens are bound (another instance holds `dpop`: a rolling deploy) is never
      // redeemed without a proof here; an IdP that binds the client's tokens would answer invalid_grant
      // and end the session. 503: the next call may reach an instance with the key.
      if (!binding.grantOptions && Object.values(current.data.tokens).some((t) => t.jkt)) {
        throw bffError(BffErrorCode.DpopBound, 'the session\'s tokens are DPoP-bound and this instance has no DPoP key (createBff({ dpop })): not redeemed here; try again shortly.', { status: 503, retryAfterSeconds: 5 });
      }
      // Step 6: another holder redeemed this version and its write is in doubt (a kept grant, or a holder
      // that died mid-flight): redeeming the same refresh token now would be reuse. Wait for it instead.
      const marker = await sessions.call((s) => s.get(inDoubtKey(key)));
      if (marker && marker.version === current.record.version && marker.expiresAt > options.now()) throw busy();
      await sessions.call((s) =>
        s.set(inDoubtKey(key), { version: current.record.version, expiresAt: options.now() + options.keptGrantMs, data: '' }, options.keptGrantMs),
      );
      let markerKept = false;
      const params = new URLSearchParams();
      for (const r of request.resource ? [request.resource] : options.resource) params.append('resource', r);
      if (request.scope) params.set('scope', request.scope);
      const watch = capture.watch(refreshToken);
      let response: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
      try {
        response = await client.refreshTokenGrant(config, refreshToken, params, binding.grantOptions);
      } catch (err) {
        const kind = await classifyGrantFailure(err);
        if (kind !== 'ended') {
          // The IdP may have committed a rotation whose answer openid-client then refused: keep the new refresh token.
          const rotated = await watch.rotated();
          if (rotated && rotated !== refreshToken) {
            if (!rejectedAnswerWarned) {
              rejectedAnswerWarned = true;
              options.logger.warn('ngx-fresh-token/bff: the identity provider rotated a refresh token in an answer that failed verification (check the clocks of this server and the IdP); the new refresh token was kept. (Logged once.)');
            }
            const kept = await persist(current, { ...current.data, refreshToken: rotated }, lock.deadline);
            if (kept === 'failed') {
              keepLock = markerKept = true;
              keep(key, current, { ...current.data, refreshToken: rotated }, lock.release);
            }
          }
          rememberFailure(key, slot);
          const pause = retryAfterSecondsOf(err, Date.now());
          if (pause !== null) idpPausedUntil = Math.max(idpPausedUntil, options.now() + pause * 1_000);
          if (!markerKept) await clearMarker(key);
          throw grantErrors.errorFor(kind);
        }
        await clearMarker(key);
        // A holder whose lock lapsed may have lost to another instance that already rotated the
        // token: read once more before ending anything.
        const again = await sessions.loadKey(key, false);
        if (again && again.record.version !== current.record.version) {
          const answer = answerIn(again.data, slot, stale);
          if (answer) return answer;
          throw busy();
        }
        // Step 7: the fenced delete.
        if (await sessions.removeIfVersion(key, current.record.version)) {
          options.onEvent({ type: 'session-ended', sessionKey: key, sub: current.data.sub });
          return null;
        }
        const after = await sessions.loadKey(key, false);
        const answer = after && answerIn(after.data, slot, stale);
        if (answer) return answer;
        throw busy();
      } finally {
        watch.done();
      }
      const token = binding.tokenOf(response, options.now());
      const tokens = { ...current.data.tokens, [slot]: token };
      // A session caches a bounded number of token slots (server code may ask for many resources or scopes).
      const slots = Object.keys(tokens);
      if (slots.length > MAX_TOKEN_SLOTS) {
        slots.sort((a, b) => (tokens[a].issuedAt ?? 0) - (tokens[b].issuedAt ?? 0));
        for (const old of slots.slice(0, slots.length - MAX_TOKEN_SLOTS)) delete tokens[old];
      }
      const data: SessionData = {
        ...current.data,
        refreshToken: response.refresh_token ?? refreshToken,
        tokens,
      };
      if (response.id_token) data.idToken = response.id_token;
      // Step 5: the fence. Stored before anyone gets the new access token.
      const persisted = await persist(current, data, lock.deadline);
      if (persisted === 'failed') {
        // Step 6: the rotated refresh token exists only here now; the marker and the lock stay.
        keepLock = true;
        keep(key, current, data, lock.release);
        throw storeUnavailable();
      }
      void clearMarker(key);
      if (persisted === 'lost') {
        const again = await sessions.loadKey(key, false);
        if (!again) return null;
        const answer = answerIn(again.data, slot, stale);
        if (answer) return answer;
        throw busy();
      }
      options.onEvent({ type: 'refresh', sessionKey: key, sub: current.data.sub, accessToken: token.accessToken });
      return { token };
    } finally {
      if (!keepLock) await lock.release();
    }
  }

  return {
    async issue(loaded, request) {
      let session: LoadedSession | null = loaded;
      // Step 6: a grant kept on this instance is stored before anything else.
      if (pending.has(session.key)) {
        if (!(await flush(session.key))) throw storeUnavailable();
        session = await sessions.loadKey(session.key, false);
        if (!session) return null;
      }
      const slot = tokenKey(request.resource, request.scope);
      const cached = session.data.tokens[slot];
      // Step 1.
      if (fresh(cached)) {
        if (!request.forceRefresh) return { token: cached };
        if (request.replacesToken && request.replacesToken !== (await sha256(cached.accessToken))) return { token: cached };
      }
      const key = session.key;
      const flightKey = `${key}\n${slot}`;
      let flight = flights.get(flightKey);
      // The bound (a flight in progress is joined, whatever the bound says).
      const wait = flight ? 0 : waitBeforeRedeeming(key, slot, cached);
      if (wait > 0) {
        if (cached && (cached.expiresAt === null || cached.expiresAt > options.now())) return { token: cached };
        throw notNow(wait);
      }
      // Step 2.
      if (!flight) {
        const stale = cached?.accessToken ?? null;
        flight = serialized(key, () => redeem(key, slot, stale, request)).finally(() => flights.delete(flightKey));
        flights.set(flightKey, flight);
      }
      return flight;
    },
    refreshTokenOf(session) {
      return pending.get(session.key)?.data.refreshToken ?? session.data.refreshToken;
    },
    forget(key) {
      const grant = pending.get(key);
      if (grant) drop(key, grant);
      failedAt.delete(key);
    },
  };
}
