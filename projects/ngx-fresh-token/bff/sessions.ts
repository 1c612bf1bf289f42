// Server-side sessions: the cookie holds only an opaque 256-bit id; the store key is its SHA-256;
// the record's `data` is the session sealed with AES-256-GCM (bound to that key). Store calls are
// bounded by `storeTimeoutMs`: a store that is down or paused answers 503, it never hangs a request.
import { readCookie, serializeCookie, type HeaderSource } from './cookies';
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
  /** DPoP: the thumbprint of the BFF key the token is bound to (`cnf.jkt`); absent for a bearer token. */
  jkt?: string;
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

/** A session read from the store: its key, the record (for the version fence) and the opened data (deeply frozen: shared between reads of the same record). */
export interface LoadedSession {
  key: string;
  record: SessionRecord;
  data: SessionData;
}

/** The cache slot of an access token: tokens for different resources or scopes never mix. */
export function tokenKey(resource?: string, scope?: string): string {
  // JSON, so no two (resource, scope) pairs share a slot ('urn:a b' + 'c' vs 'urn:a' + 'b c').
  return resource || scope ? JSON.stringify([resource ?? null, scope ?? null]) : '';
}

/** Seconds a client is told to wait when a session was sealed under a key newer than this instance holds. */
export const NEWER_KEY_RETRY_AFTER_SECONDS = 5;

/** The session layer of one BFF: cookie ↔ store key ↔ sealed record. */
export function createSessions(options: ResolvedBffOptions, sealer: Sealer) {
  const { store, now } = options;
  const unavailable = () =>
    bffError(BffErrorCode.StoreUnavailable, 'the session store did not answer in time or failed; try again shortly.', {
      status: 503,
      retryAfterSeconds: STORE_RETRY_AFTER_SECONDS,
    });
  const newerKey = () =>
    bffError(BffErrorCode.SessionKeyUnknown, 'the session was sealed under a secret this instance does not hold yet (a rolling deploy of a new secret); try again shortly.', {
      status: 503,
      retryAfterSeconds: NEWER_KEY_RETRY_AFTER_SECONDS,
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

  // Hot-path caches (every /session/token and proxied call reads the session): the store key of a cookie
  // id, and the opened data of a sealed value under its exact binding. Both are pure functions of what
  // they are looked up by, so a cached answer is the answer; both are bounded (the oldest entries go first).
  // The opened data is found by its binding (short) and used only when the sealed value read now is the
  // very one it was opened from (a string comparison, not a hash of the whole sealed value per lookup).
  const keys = new BoundedCache<string, Promise<string>>(10_000);
  const opened = new BoundedCache<string, { sealed: string; data: SessionData }>(10_000);
  const keyOf = (sessionId: string) => keys.get(sessionId) ?? keys.set(sessionId, sha256(`nft-session:${sessionId}`));
  /** The index entries of a `sid` or `sub`: keyed HMACs (a store dump does not tell whether a known user has a session), one per secret held. */
  const indexEntries = (kind: 'sid' | 'sub', value: string) => sealer.indexEntries(kind, `${options.issuer.href}\n${value}`);
  const ttlMs = (record: SessionRecord) => Math.max(1, Math.min(options.idleMs, record.expiresAt - now()));
  /** What a record's ciphertext is bound to: its place, its version and its absolute end (a store writer cannot move, roll back the version of, or extend a session). */
  const boundTo = (key: string, version: number, expiresAt: number) => `${key}\n${version}\n${expiresAt}`;

  async function open(key: string, record: SessionRecord): Promise<SessionData | 'newer-key' | null> {
    const binding = boundTo(key, record.version, record.expiresAt);
    // The same sealed value under the same binding opens to the same data: skip the decryption. The data
    // is deeply frozen, so no caller can change what the next caller reads (no copy per read).
    const known = opened.get(binding);
    if (known && known.sealed === record.data) return known.data;
    const result = await sealer.open(record.data, binding);
    if (result === null) return null;
    if ('newerKey' in result) return 'newer-key';
    try {
      const data = JSON.parse(result.plaintext) as SessionData;
      if (!data || typeof data !== 'object' || typeof data.sub !== 'string') return null;
      deepFreeze(data);
      opened.set(binding, { sealed: record.data, data });
      return data;
    } catch {
      return null;
    }
  }

  const seal = (key: string, data: SessionData, version: number, expiresAt: number): Promise<string> =>
    sealer.seal(JSON.stringify(data), boundTo(key, version, expiresAt));

  /** Deletes `key` only while its version is `version` (so a stale writer never deletes a newer session); `true` when deleted or already gone. */
  const removeIfVersion = (key: string, version: number): Promise<boolean> =>
    call(async (s) => {
      if (s.compareAndDelete) return s.compareAndDelete(key, version);
      // A store without compareAndDelete: a compare-and-set to a record that is already over.
      const t = now();
      return s.compareAndSet(key, version, { version: version + 1, expiresAt: t + 1, data: '' }, 1);
    });

  return {
    call,
    ttlMs,
    indexEntries,
    removeIfVersion,
    /** `NFT412` (503): sealed under a secret this instance does not hold yet. */
    newerKeyError: newerKey,

    /** The store key of the request's session cookie, or `null` without a well-formed one. */
    async keyOfRequest(request: HeaderSource): Promise<string | null> {
      const id = readCookie(request, options.cookieName);
      return id && SESSION_ID.test(id) ? keyOf(id) : null;
    },

    /**
     * Reads the request's session (sliding its idle TTL when `slide`). `null` when there is none, it
     * expired, or it does not open under a key this instance holds or held (a removed secret, tampering:
     * signed out, and its entry is deleted — fenced by its version). Rejects with `NFT412` (503) for a
     * session sealed under a newer secret, which is never deleted. `hadCookie` says whether the browser
     * sent one, so the answer can clear it.
     */
    async load(request: HeaderSource, slide: boolean): Promise<{ session: LoadedSession | null; hadCookie: boolean }> {
      const key = await this.keyOfRequest(request);
      if (!key) return { session: null, hadCookie: readCookie(request, options.cookieName) !== null };
      return { session: await this.loadKey(key, slide), hadCookie: true };
    },

    /** Reads the session under `key` (see {@link load}). */
    async loadKey(key: string, slide: boolean): Promise<LoadedSession | null> {
      const record = await call((s) => s.get(key, slide ? { idleMs: options.idleMs } : undefined));
      if (!record) return null;
      if (record.expiresAt <= now()) {
        await removeIfVersion(key, record.version);
        return null;
      }
      const data = await open(key, record);
      if (data === 'newer-key') throw newerKey();
      if (!data) {
        // Sealed under a secret that was removed, tampered with, or moved: signed out, and the entry goes.
        await removeIfVersion(key, record.version);
        return null;
      }
      return { key, record, data };
    },

    /** Stores a new session; returns its cookie id (the only place the raw id exists). */
    async create(data: SessionData, absoluteMs: number): Promise<{ id: string; key: string; record: SessionRecord }> {
      const id = randomId(32);
      const key = await keyOf(id);
      const index = await indexEntries('sub', data.sub);
      if (data.sid) index.push(...(await indexEntries('sid', data.sid)));
      const expiresAt = data.createdAt + absoluteMs;
      const record: SessionRecord = { version: 1, expiresAt, data: await seal(key, data, 1, expiresAt), index };
      await call((s) => s.set(key, record, ttlMs(record)));
      return { id, key, record };
    },

    /** Writes new session data only over `previous.version` (the fence); `false` when another writer won. */
    async replace(previous: LoadedSession, data: SessionData): Promise<{ ok: boolean; record: SessionRecord }> {
      const version = previous.record.version + 1;
      const record: SessionRecord = { ...previous.record, version, data: await seal(previous.key, data, version, previous.record.expiresAt) };
      const ok = await call((s) => s.compareAndSet(previous.key, previous.record.version, record, ttlMs(record)));
      return { ok, record };
    },

    /**
     * Keeps `value` sealed in the store for `ttlMs` under a new random reference (256 bits) and returns
     * the reference: a one-time handle the browser may carry without learning the value.
     */
    async stash(value: unknown, ttlMs: number): Promise<string> {
      const ref = randomId(32);
      const key = await sha256(`nft-stash:${ref}`);
      const expiresAt = now() + ttlMs;
      const record: SessionRecord = { version: 1, expiresAt, data: await sealer.seal(JSON.stringify(value), boundTo(key, 1, expiresAt)) };
      await call((s) => s.set(key, record, ttlMs));
      return ref;
    },

    /** The value stashed under `ref`, once: `null` when unknown, expired or already taken. */
    async take(ref: string): Promise<unknown> {
      if (!SESSION_ID.test(ref)) return null;
      const key = await sha256(`nft-stash:${ref}`);
      // Only a reference that exists is claimed (a made-up one costs one read, and stores nothing).
      const record = await call((s) => s.get(key));
      if (!record || record.expiresAt <= now()) return null;
      if (!(await call((s) => s.claimOnce(`taken:${key}`, Math.max(1, record.expiresAt - now()))))) return null;
      await call((s) => s.delete(key));
      const opened = await sealer.open(record.data, boundTo(key, record.version, record.expiresAt));
      if (!opened || 'newerKey' in opened) return null;
      try {
        return JSON.parse(opened.plaintext) as unknown;
      } catch {
        return null;
      }
    },

    /** Deletes the session under `key` whatever its version (sign-out, back-channel logout). */
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

/** Freezes `value` and everything it holds (JSON data: plain objects and arrays). */
function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const inner of Object.values(value)) deepFreeze(inner);
}

/** A Map that keeps at most `max` entries, dropping the oldest first. */
class BoundedCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(key: K): V | undefined {
    return this.map.get(key);
  }
  set(key: K, value: V): V {
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as K);
    this.map.set(key, value);
    return value;
  }
}

/** The session layer's type. */
export type Sessions = ReturnType<typeof createSessions>;
