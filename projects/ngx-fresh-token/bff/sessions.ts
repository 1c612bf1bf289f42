// Server-side sessions: the cookie holds only an opaque 256-bit id; the store key is its SHA-256;
// the record's `data` is the session sealed with AES-256-GCM (bound to that key). Store calls are
// bounded by `storeTimeoutMs`: a store that is down or paused answers 503, it never hangs a request.
import { readCookie, serializeCookie } from './cookies';
import { randomId, sha256, type Sealer } from './crypto';
import { bffError, BffErrorCode } from './errors';
import { withTimeout } from './http';
import type { ResolvedBffOptions } from './options';
import type { SessionRecord, SessionStore } from './session-store';

/** Seconds a client is told to wait (`Retry-After`) when the session store is unavailable. */
export const STORE_RETRY_AFTER_SECONDS = 2;
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** An access token cached in the session, per resource/scope. */
export interface CachedToken {
  accessToken: string;
  /** Epoch ms; `null` when the IdP said nothing (an opaque token without `expires_in`). */
  expiresAt: number | null;
  /** When the BFF received it (epoch ms): with `expiresAt`, the token's lifetime. */
  issuedAt?: number;
}

/** What a session holds, sealed: only this process (and its key holders) can read it. */
export interface SessionData {
  sub: string;
  sid?: string;
  /** The ID token's claims (only `userClaims` of them ever leave the server). */
  claims: Record<string, unknown>;
  idToken?: string;
  refreshToken?: string;
  /** Cached access tokens by {@link tokenKey}. */
  tokens: Record<string, CachedToken>;
  createdAt: number;
}

/** A session read from the store: its key, the record (for the version fence) and the opened data. */
export interface LoadedSession {
  key: string;
  record: SessionRecord;
  data: SessionData;
}

/** The cache slot of an access token: tokens for different resources or scopes never mix. */
export function tokenKey(resource?: string, scope?: string): string {
  return resource || scope ? `${resource ?? ''} ${scope ?? ''}` : '';
}

/** The session layer of one BFF: cookie ↔ store key ↔ sealed record. */
export function createSessions(options: ResolvedBffOptions, sealer: Sealer) {
  const { store, now } = options;
  const unavailable = () =>
    bffError(BffErrorCode.StoreUnavailable, 'the session store did not answer in time or failed; try again shortly.', {
      status: 503,
      retryAfterSeconds: STORE_RETRY_AFTER_SECONDS,
    });
  /** Every store call, bounded in time; any failure becomes `NFT404` (503), the session is kept. */
  const call = <T>(run: (s: SessionStore) => Promise<T>): Promise<T> => {
    let promise: Promise<T>;
    try {
      promise = Promise.resolve(run(store));
    } catch {
      return Promise.reject(unavailable());
    }
    return withTimeout(promise, options.storeTimeoutMs, unavailable).catch((err) => {
      throw err?.code === BffErrorCode.StoreUnavailable ? err : unavailable();
    });
  };

  const keyOf = (sessionId: string) => sha256(`nft-session:${sessionId}`);
  const indexEntry = (kind: 'sid' | 'sub', value: string) => sha256(`${options.issuer.href}\n${kind}\n${value}`).then((h) => `${kind}:${h}`);
  const ttlMs = (record: SessionRecord) => Math.max(1, Math.min(options.idleMs, record.expiresAt - now()));

  async function open(key: string, record: SessionRecord): Promise<SessionData | null> {
    const plain = await sealer.open(record.data, key);
    if (plain === null) return null;
    try {
      return JSON.parse(plain) as SessionData;
    } catch {
      return null;
    }
  }

  async function seal(key: string, data: SessionData): Promise<string> {
    return sealer.seal(JSON.stringify(data), key);
  }

  return {
    call,
    ttlMs,
    indexEntry,

    /** The store key of the request's session cookie, or `null` without a well-formed one. */
    async keyOfRequest(request: Request): Promise<string | null> {
      const id = readCookie(request, options.cookieName);
      return id && SESSION_ID.test(id) ? keyOf(id) : null;
    },

    /**
     * Reads the request's session (sliding its idle TTL when `slide`). `null` when there is none,
     * it expired (its entry is deleted) or no current secret opens it (it reads as signed out).
     * `hadCookie` says whether the browser sent one, so the answer can clear it.
     */
    async load(request: Request, slide: boolean): Promise<{ session: LoadedSession | null; hadCookie: boolean }> {
      const key = await this.keyOfRequest(request);
      if (!key) return { session: null, hadCookie: readCookie(request, options.cookieName) !== null };
      return { session: await this.loadKey(key, slide), hadCookie: true };
    },

    /** Reads the session under `key` (see {@link load}). */
    async loadKey(key: string, slide: boolean): Promise<LoadedSession | null> {
      const record = await call((s) => s.get(key, slide ? { idleMs: options.idleMs } : undefined));
      if (!record) return null;
      if (record.expiresAt <= now()) {
        await call((s) => s.delete(key));
        return null;
      }
      const data = await open(key, record);
      if (!data) {
        // Sealed under a secret that was removed (or tampered with): signed out, and the entry goes.
        await call((s) => s.delete(key));
        return null;
      }
      return { key, record, data };
    },

    /** Stores a new session; returns its cookie id (the only place the raw id exists). */
    async create(data: SessionData, absoluteMs: number): Promise<{ id: string; key: string; record: SessionRecord }> {
      const id = randomId(32);
      const key = await keyOf(id);
      const index = [await indexEntry('sub', data.sub)];
      if (data.sid) index.push(await indexEntry('sid', data.sid));
      const record: SessionRecord = { version: 1, expiresAt: data.createdAt + absoluteMs, data: await seal(key, data), index };
      await call((s) => s.set(key, record, ttlMs(record)));
      return { id, key, record };
    },

    /** Writes new session data only over `previous.version` (the fence); `false` when another writer won. */
    async replace(previous: LoadedSession, data: SessionData): Promise<{ ok: boolean; record: SessionRecord }> {
      const record: SessionRecord = { ...previous.record, version: previous.record.version + 1, data: await seal(previous.key, data) };
      const ok = await call((s) => s.compareAndSet(previous.key, previous.record.version, record, ttlMs(record)));
      return { ok, record };
    },

    remove(key: string): Promise<void> {
      return call((s) => s.delete(key));
    },

    /** The `Set-Cookie` of a new session: lives until the session's absolute end. */
    sessionCookie(id: string, record: SessionRecord): string {
      return serializeCookie(options.cookieName, id, { sameSite: 'Strict', secure: options.secureCookies, maxAgeSeconds: (record.expiresAt - now()) / 1000 });
    },

    /** The `Set-Cookie` that deletes the session cookie. */
    clearCookie(): string {
      return serializeCookie(options.cookieName, '', { sameSite: 'Strict', secure: options.secureCookies, maxAgeSeconds: 0 });
    },
  };
}

/** The session layer's type. */
export type Sessions = ReturnType<typeof createSessions>;
