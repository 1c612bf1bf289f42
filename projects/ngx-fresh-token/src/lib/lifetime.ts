import { jwtDecode } from 'jwt-decode';
import { effectiveBufferMs } from 'ngx-fresh-token/internal';
import { ɵerror } from './errors';
import type { TokenGrant } from './token';

/**
 * Default time before expiry at which a token counts as expiring and is refreshed: 30 s.
 *
 * @example
 * withRefreshBuffer(2 * DEFAULT_REFRESH_BUFFER_MS) // 60 s
 */
export const DEFAULT_REFRESH_BUFFER_MS = 30_000;

/**
 * Default least validity a token must have left to be sent without waiting for a refresh: 10 s
 * (lowered to the refresh buffer when that is shorter).
 *
 * @example
 * withMinValidity(DEFAULT_MIN_VALIDITY_MS / 2) // 5 s
 */
export const DEFAULT_MIN_VALIDITY_MS = 10_000;

/** Skew below this is rounding (JWT times have 1 s resolution) plus latency, not a wrong clock. */
export const SKEW_TOLERANCE_MS = 2_000;

/**
 * Lifetime status of a token, as in {@link TokenState}.
 *
 * @example
 * auth.state$.pipe(map((s): TokenStatus => s.status)).subscribe((status) => console.log(status)); // 'fresh', 'expiring', …
 */
export type TokenStatus = 'signed-out' | 'fresh' | 'expiring' | 'expired';

/**
 * Everything the service needs to know about a token, computed once when it arrives so that
 * nothing is decoded per request.
 */
export interface TokenLifetime {
  /** The access token. */
  token: string;
  /** Expiry in epoch ms on the issuer's clock; `null` for an opaque token that never expires. */
  expiresAt: number | null;
  /** Local clock minus issuer clock, in ms (positive: the local clock is ahead). */
  skewMs: number;
  /** The configured buffer: inside it the token's status is `expiring`. */
  bufferMs: number;
  /**
   * Time left at which the service refreshes this token: for a token a refresh delivered,
   * `min(buffer, half its lifetime)` (`effectiveBufferMs`, the rule every entry shares; the lifetime
   * is `exp − iat` when known, else what was left on arrival), and at most half of what was left on
   * arrival (a source whose tokens live shorter than the buffer does not cause a refresh per
   * request); the buffer for a token put in place by hand.
   */
  refreshBufferMs: number;
  /**
   * Time left below which callers wait for the refresh instead of getting this token at once:
   * the configured min validity, never more than {@link TokenLifetime.refreshBufferMs} (so a
   * token that arrived inside the buffer keeps the half-life rule).
   */
  minValidityMs: number;
}

interface JwtTimes {
  exp?: unknown;
  iat?: unknown;
}

/**
 * Reads `exp` and `iat` (in epoch ms) from a JWT; an opaque token gives `{}`.
 * Throws `NFT204` for a token that looks like a JWT but cannot be decoded or carries a non-numeric `exp`.
 *
 * @example
 * readJwtTimes(createTestJwt({ expiresInSeconds: 60 })).expMs; // now + 60 000
 */
export function readJwtTimes(token: string): { expMs?: number; iatMs?: number } {
  const times: { expMs?: number; iatMs?: number } = {};
  // A JWS compact token has exactly three segments; anything else (opaque, JWE) is not decoded.
  const segments = token.split('.');
  if (segments.length !== 3 || !segments[0]) return times;
  let claims: JwtTimes | null = null;
  try {
    claims = jwtDecode<JwtTimes>(token);
  } catch {
    // handled below, like a payload that is valid JSON but not a claims object
  }
  // `null`, `"x"`, `123` or `[]` are JSON but not a claims set: as malformed as bad base64url.
  const notClaims = typeof claims !== 'object' || !claims || Array.isArray(claims);
  if (notClaims || (claims!.exp !== undefined && !Number.isFinite(claims!.exp))) {
    throw ɵerror(
      'NFT204',
      (typeof ngDevMode === 'undefined' || ngDevMode)
        ? notClaims
          ? 'The access token has three segments like a JWT but its payload is not a base64url JSON object.'
          : 'The access token has an `exp` claim that is not a number.'
        : '',
    );
  }
  const { exp, iat } = claims!;
  if (exp !== undefined) times.expMs = (exp as number) * 1000;
  if (Number.isFinite(iat)) times.iatMs = (iat as number) * 1000;
  return times;
}

/**
 * Estimates how far the local clock is off the issuer's from a token's `iat`, received at
 * `receivedAtMs`. A cached token's `iat` can be old, so a positive skew (local clock ahead)
 * is trusted only when without it the token would look stale on arrival, which is the case
 * that would otherwise refresh in a loop; a negative skew (`iat` in the future) is always
 * trusted, since it only makes refreshes earlier.
 *
 * @example
 * estimateSkewMs(serverNow, serverNow + 3_600_000, serverNow + 600_000, 30_000); // 600 000
 */
export function estimateSkewMs(
  iatMs: number | undefined,
  expiresAtMs: number | null,
  receivedAtMs: number,
  bufferMs: number,
): number {
  if (iatMs === undefined) return 0;
  const rawSkew = receivedAtMs - iatMs;
  if (rawSkew < -SKEW_TOLERANCE_MS) return rawSkew;
  if (rawSkew > SKEW_TOLERANCE_MS && expiresAtMs !== null && expiresAtMs - receivedAtMs <= bufferMs) return rawSkew;
  return 0;
}

export { effectiveBufferMs } from 'ngx-fresh-token/internal';

/**
 * Works out a grant's lifetime as it arrives at `receivedAtMs`: expiry from `expiresAt`, else
 * the JWT `exp`, else none; skew from `iat`; when to refresh it and below which validity callers
 * wait (`minValidityMs`, default 10 s or the buffer if shorter). Throws `NFT204` for a
 * malformed JWT and `NFT205` for a token that is already expired. Pass `fromRefresh: false`
 * for a token put in place by hand, which is then refreshed strictly at the buffer.
 *
 * @example
 * const life = resolveLifetime({ accessToken }, Date.now(), 30_000);
 */
export function resolveLifetime(
  grant: TokenGrant,
  receivedAtMs: number,
  bufferMs: number,
  fromRefresh = true,
  minValidityMs = Math.min(DEFAULT_MIN_VALIDITY_MS, bufferMs),
): TokenLifetime {
  const times = readJwtTimes(grant.accessToken);
  const expiresAt = grant.expiresAt ?? times.expMs ?? null;
  const skewMs = estimateSkewMs(times.iatMs, expiresAt, receivedAtMs, bufferMs);
  const lifetimeMs = expiresAt === null ? null : expiresAt - (receivedAtMs - skewMs);
  if (lifetimeMs !== null && lifetimeMs <= 0) {
    throw ɵerror(
      'NFT205',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The token source returned an access token that has already expired. Check the source and the device clock.' : '',
    );
  }
  // The one rule (effectiveBufferMs), on the token's lifetime as the BFF and AppSync Events see it:
  // `exp − iat` when the token says when it was issued, else what it has left on arrival. And never
  // more than half of what is left on arrival: a token that arrives inside its buffer (a cached one)
  // is not refreshed on every request.
  const fullMs = times.iatMs !== undefined && expiresAt !== null ? expiresAt - times.iatMs : lifetimeMs;
  let refreshBufferMs = fromRefresh ? effectiveBufferMs(bufferMs, fullMs) : bufferMs;
  if (fromRefresh && lifetimeMs !== null && lifetimeMs <= refreshBufferMs) refreshBufferMs = lifetimeMs / 2;
  return {
    token: grant.accessToken,
    expiresAt,
    skewMs,
    bufferMs,
    refreshBufferMs,
    minValidityMs: Math.min(minValidityMs, refreshBufferMs),
  };
}

/**
 * Local epoch ms at which the refresh of this token starts (`expiresAt − refresh buffer`,
 * corrected for skew); `null` for a token that never expires.
 *
 * @example
 * refreshAt(life); // e.g. Date.now() + 3_570_000 for a one-hour token
 */
export function refreshAt(life: TokenLifetime): number | null {
  return life.expiresAt === null ? null : life.expiresAt + life.skewMs - life.refreshBufferMs;
}

/**
 * Milliseconds the token has left at local time `nowMs`, corrected for skew; `null` when it
 * never expires.
 *
 * @example
 * msUntilExpiry(life, Date.now());
 */
export function msUntilExpiry(life: TokenLifetime, nowMs: number): number | null {
  return life.expiresAt === null ? null : life.expiresAt - (nowMs - life.skewMs);
}

/**
 * Whether the token is fresh: more than the buffer left (`expiresAt − now > buffer`).
 *
 * @example
 * isFresh(life, Date.now());
 */
export function isFresh(life: TokenLifetime, nowMs: number): boolean {
  const left = msUntilExpiry(life, nowMs);
  return left === null || left > life.bufferMs;
}

/**
 * Whether the service must refresh before handing the token out: true once the time left is
 * within {@link TokenLifetime.refreshBufferMs} (the buffer, for all but tokens that arrived
 * already inside it).
 *
 * @example
 * needsRefresh(life, Date.now());
 */
export function needsRefresh(life: TokenLifetime, nowMs: number): boolean {
  const left = msUntilExpiry(life, nowMs);
  return left !== null && left <= life.refreshBufferMs;
}

/**
 * The lifetime status at `nowMs`: `fresh`, `expiring` (inside the buffer) or `expired`;
 * `signed-out` without a token.
 *
 * @example
 * tokenStatus(life, Date.now()); // 'fresh'
 */
export function tokenStatus(life: TokenLifetime | null, nowMs: number): TokenStatus {
  if (!life) return 'signed-out';
  const left = msUntilExpiry(life, nowMs);
  if (left === null || left > life.bufferMs) return 'fresh';
  return left > 0 ? 'expiring' : 'expired';
}

/**
 * Milliseconds from `nowMs` until the status next changes (fresh → expiring → expired);
 * `null` when it never will.
 *
 * @example
 * msUntilNextStatus(life, Date.now());
 */
export function msUntilNextStatus(life: TokenLifetime | null, nowMs: number): number | null {
  const left = life ? msUntilExpiry(life, nowMs) : null;
  if (left === null || left <= 0) return null;
  return left > life!.bufferMs ? left - life!.bufferMs : left;
}
