import { effectiveBufferMs, readJwtTimes } from 'ngx-fresh-token';
import { isHeaderSafeToken } from 'ngx-fresh-token/internal';
import type { TokenGrant, TokenRequest } from 'ngx-fresh-token';

/**
 * @internal What a client-credentials token is for: one service identity. Nothing of a user (no cookie, no
 * request, no session) is part of it, so every render and every injector of the process that asks
 * for the same identity shares one token.
 */
export interface ServiceIdentity {
  tokenUrl: string;
  clientId: string;
  /** Space-separated scopes. Their order does not matter. */
  scope?: string;
  resource?: string;
  authMethod: 'client_secret_basic' | 'client_secret_post';
  clientSecret: string;
}

/** One service identity's token in this process: the last one fetched, and the fetch in flight. */
interface Entry {
  grant: TokenGrant | null;
  /** Expiry in epoch ms (the grant's `expiresAt`, else the JWT `exp`); null: never expires. */
  expiresAt: number | null;
  /** `expiresAt` minus the time it arrived: decides the refresh point of a token shorter than the buffer. */
  lifetimeMs: number | null;
  pending: Promise<TokenGrant> | null;
}

/**
 * The process-level cache. Module state on purpose: a client-credentials token is the server's own
 * identity, not a user's, and a per-render injector would otherwise fetch one per render. It never
 * holds anything in a browser, where `withClientCredentials()` refuses to run.
 */
const entries = new Map<string, Entry>();

/**
 * A 53-bit fingerprint of `text` (cyrb53): tells two secrets apart without putting either into the
 * key. Not a cryptographic hash, and it needs none: it never leaves the process, and it only has to
 * keep two configurations of one client from sharing a token.
 */
function fingerprint(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/**
 * @internal The cache key of `identity`: token URL, client id, scopes (as a set), resource, and how
 * and with which secret the client authenticates (a fingerprint: two configurations of one client
 * that differ in their secret — a typo, a rotation — never share a token). Nothing of a user.
 */
export function ɵserviceTokenKey(identity: ServiceIdentity): string {
  const scopes = [...new Set((identity.scope ?? '').split(/\s+/).filter(Boolean))].sort().join(' ');
  return JSON.stringify([
    identity.tokenUrl,
    identity.clientId,
    scopes || null,
    identity.resource ?? null,
    identity.authMethod,
    fingerprint(identity.clientSecret),
  ]);
}

/** Whether `entry`'s token may still be handed out at `nowMs`: more left than the refresh buffer (the core's rule). */
function usable(entry: Entry, nowMs: number, bufferMs: number): boolean {
  if (entry.expiresAt === null) return true;
  return entry.expiresAt - nowMs > effectiveBufferMs(bufferMs, entry.lifetimeMs);
}

/**
 * @internal The process's token for `key`, shared by every caller:
 * - a cached token with more than the refresh buffer left is handed out at once (a token shorter
 *   than the buffer: half its lifetime, as in the core);
 * - else one fetch, joined by every caller until it settles (single flight across renders);
 * - a forced refresh that names the cached token (`currentToken`: it is expiring for that caller, or
 *   an API rejected it) drops it, so it is never handed out again, and fetches once; a forced refresh
 *   naming an older token gets the cached one (someone already replaced it);
 * - a failed fetch is not kept: the next caller fetches again.
 */
export function ɵsharedServiceToken(
  key: string,
  request: TokenRequest,
  now: () => number,
  bufferMs: number,
  fetchToken: () => Promise<TokenGrant>,
): Promise<TokenGrant> {
  let entry = entries.get(key);
  if (!entry) {
    entry = { grant: null, expiresAt: null, lifetimeMs: null, pending: null };
    entries.set(key, entry);
  }
  const held = entry.grant;
  if (held) {
    if (request.forceRefresh && request.currentToken === held.accessToken) entry.grant = null;
    else if (usable(entry, now(), bufferMs)) return Promise.resolve(held);
  }
  if (entry.pending) return entry.pending;
  const target = entry;
  const forget = () => {
    target.pending = null;
    if (!target.grant && entries.get(key) === target) entries.delete(key);
  };
  // The fetch runs on the HttpBackend of the caller that started it; callers that join it wait for it.
  const flight = fetchToken().then((grant) => {
    try {
      const receivedAt = now();
      const times = readJwtTimes(grant.accessToken);
      const expiresAt = grant.expiresAt ?? times.expMs ?? null;
      // Only a token the core would take is kept (visible ASCII, an expiry that is a finite time still ahead, and
      // after the token's own iat, which the core's clock-skew correction measures it from): one it refuses (NFT203,
      // NFT205) goes back to this caller and is fetched again by the next, never served to every later render.
      const alive = (at: number) => Number.isFinite(at) && at > receivedAt && (times.iatMs === undefined || at > times.iatMs);
      if (!isHeaderSafeToken(grant.accessToken) || (expiresAt !== null && !alive(expiresAt))) {
        forget();
        return grant;
      }
      Object.assign(target, { grant, expiresAt, lifetimeMs: expiresAt === null ? null : expiresAt - receivedAt, pending: null });
    } catch (err) {
      forget(); // a malformed JWT (NFT204) is a failure like any other: not kept
      throw err;
    }
    return grant;
  });
  flight.catch(() => target.pending === flight && forget());
  target.pending = flight;
  return flight;
}
