import { createTestJwt } from 'ngx-fresh-token/testing';
import { FreshTokenErrorCode } from './errors';
import {
  effectiveBufferMs,
  estimateSkewMs,
  isFresh,
  needsRefresh,
  msUntilExpiry,
  msUntilNextStatus,
  readJwtTimes,
  resolveLifetime,
  tokenStatus,
} from './lifetime';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const BUFFER = 30_000;

describe('lifetime arithmetic', () => {
  it('takes expiry from expiresAt before the JWT exp', () => {
    const token = createTestJwt({ expiresInSeconds: 3600, nowMs: NOW });
    const life = resolveLifetime({ accessToken: token, expiresAt: NOW + 120_000 }, NOW, BUFFER);
    expect(life.expiresAt).toBe(NOW + 120_000);
  });

  it('takes expiry from the JWT exp when expiresAt is absent', () => {
    const life = resolveLifetime({ accessToken: createTestJwt({ expiresInSeconds: 600, nowMs: NOW }) }, NOW, BUFFER);
    expect(life.expiresAt).toBe(NOW + 600_000);
    expect(life.skewMs).toBe(0);
  });

  it('treats an opaque token without expiresAt as never expiring', () => {
    const life = resolveLifetime({ accessToken: 'opaque-token-value' }, NOW, BUFFER);
    expect(life.expiresAt).toBeNull();
    expect(tokenStatus(life, NOW + 10 * 365 * 86_400_000)).toBe('fresh');
    expect(msUntilNextStatus(life, NOW)).toBeNull();
  });

  it('goes fresh → expiring at exp − buffer → expired at exp', () => {
    const life = resolveLifetime({ accessToken: createTestJwt({ expiresInSeconds: 90, nowMs: NOW }) }, NOW, BUFFER);
    expect(tokenStatus(life, NOW + 59_999)).toBe('fresh');
    expect(isFresh(life, NOW + 59_999)).toBeTrue();
    expect(tokenStatus(life, NOW + 60_000)).toBe('expiring');
    expect(isFresh(life, NOW + 60_000)).toBeFalse();
    expect(tokenStatus(life, NOW + 89_999)).toBe('expiring');
    expect(tokenStatus(life, NOW + 90_000)).toBe('expired');
    expect(msUntilNextStatus(life, NOW)).toBe(60_000);
    expect(msUntilNextStatus(life, NOW + 60_000)).toBe(30_000);
    expect(msUntilNextStatus(life, NOW + 90_000)).toBeNull();
    expect(tokenStatus(null, NOW)).toBe('signed-out');
  });

  it('refreshes a token that arrived inside the buffer at half its life, but reports it as expiring', () => {
    expect(effectiveBufferMs(30_000, 40_000)).toBe(20_000); // one rule: min(buffer, half the lifetime)
    expect(effectiveBufferMs(30_000, 60_000)).toBe(30_000);
    expect(effectiveBufferMs(30_000, 61_000)).toBe(30_000);
    expect(effectiveBufferMs(30_000, 30_000)).toBe(15_000);
    expect(effectiveBufferMs(30_000, 20_000)).toBe(10_000);
    expect(effectiveBufferMs(30_000, 600_000)).toBe(30_000);
    expect(effectiveBufferMs(30_000, null)).toBe(30_000);
    const life = resolveLifetime({ accessToken: 'x', expiresAt: NOW + 20_000 }, NOW, BUFFER);
    expect(tokenStatus(life, NOW)).toBe('expiring');
    expect(needsRefresh(life, NOW + 9_999)).toBeFalse();
    expect(needsRefresh(life, NOW + 10_000)).toBeTrue();
  });

  it('refreshes a 40 s token at half its life (one rule: min(buffer, half the lifetime)), and one of 60 s or more at the buffer', () => {
    const life = resolveLifetime({ accessToken: 'x', expiresAt: NOW + 40_000 }, NOW, BUFFER);
    expect(tokenStatus(life, NOW)).toBe('fresh');
    expect(needsRefresh(life, NOW + 19_999)).toBeFalse();
    expect(needsRefresh(life, NOW + 20_000)).toBeTrue();
    const minute = resolveLifetime({ accessToken: 'x', expiresAt: NOW + 60_000 }, NOW, BUFFER);
    expect(needsRefresh(minute, NOW + 29_999)).toBeFalse();
    expect(needsRefresh(minute, NOW + 30_000)).toBeTrue();
  });

  it('takes the lifetime of a JWT from exp − iat (as the BFF and AppSync Events do): a 60 s token is refreshed exactly at the buffer, however late it arrived', () => {
    const issuedAt = NOW - 150; // a little network latency
    const token = createTestJwt({ expiresInSeconds: 60, nowMs: issuedAt });
    const life = resolveLifetime({ accessToken: token }, NOW, BUFFER);
    expect(life.refreshBufferMs).toBe(30_000);
    const forty = resolveLifetime({ accessToken: createTestJwt({ expiresInSeconds: 40, nowMs: issuedAt }) }, NOW, BUFFER);
    expect(forty.refreshBufferMs).toBe(20_000);
    // An opaque token that arrives with 20 s left (a cached one): half of what is left, not a refresh on every request.
    const cached = resolveLifetime({ accessToken: 'opaque-token', expiresAt: NOW + 20_000 }, NOW, BUFFER);
    expect(cached.refreshBufferMs).toBe(10_000);
  });

  it('refreshes a token put in place by hand strictly at the buffer', () => {
    const life = resolveLifetime({ accessToken: 'x', expiresAt: NOW + 20_000 }, NOW, BUFFER, false);
    expect(needsRefresh(life, NOW)).toBeTrue();
    const long = resolveLifetime({ accessToken: 'x', expiresAt: NOW + 90_000 }, NOW, BUFFER, false);
    expect(needsRefresh(long, NOW + 59_999)).toBeFalse();
    expect(needsRefresh(long, NOW + 60_000)).toBeTrue();
  });

  it('corrects for a local clock that is behind the issuer (iat in the future)', () => {
    const serverNow = NOW + 600_000;
    const token = createTestJwt({ expiresInSeconds: 3600, nowMs: serverNow });
    const life = resolveLifetime({ accessToken: token }, NOW, BUFFER);
    expect(life.skewMs).toBe(-600_000);
    expect(msUntilExpiry(life, NOW)).toBe(3_600_000);
  });

  it('corrects for a local clock that is ahead when the new token would otherwise look stale', () => {
    const serverNow = NOW - 2 * 3_600_000;
    const token = createTestJwt({ expiresInSeconds: 3600, nowMs: serverNow });
    const life = resolveLifetime({ accessToken: token }, NOW, BUFFER);
    expect(life.skewMs).toBe(2 * 3_600_000);
    expect(tokenStatus(life, NOW)).toBe('fresh');
    expect(msUntilExpiry(life, NOW)).toBe(3_600_000);
  });

  it('does not trust an old iat of a cached token that is still fresh', () => {
    expect(estimateSkewMs(NOW - 50 * 60_000, NOW + 10 * 60_000, NOW, BUFFER)).toBe(0);
    expect(estimateSkewMs(NOW - 1_000, NOW + 3_600_000, NOW, BUFFER)).toBe(0);
    expect(estimateSkewMs(undefined, NOW + 1, NOW, BUFFER)).toBe(0);
  });

  it('rejects a JWT-shaped token whose payload is not JSON with NFT204', () => {
    expect(() => readJwtTimes('aaa.%%%.bbb')).toThrowMatching((e) => e.code === FreshTokenErrorCode.MalformedToken);
  });

  it('rejects a JWT whose exp is not a number with NFT204', () => {
    const token = createTestJwt({ claims: { exp: 'tomorrow' } });
    expect(() => readJwtTimes(token)).toThrowMatching((e) => e.code === FreshTokenErrorCode.MalformedToken);
  });

  it('rejects a token that expired before it arrived with NFT205', () => {
    const token = createTestJwt({ expiresInSeconds: -10, nowMs: NOW });
    expect(() => resolveLifetime({ accessToken: token }, NOW, BUFFER)).toThrowMatching(
      (e) => e.code === FreshTokenErrorCode.ExpiredOnArrival,
    );
  });
});
