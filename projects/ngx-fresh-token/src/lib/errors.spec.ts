import { HttpErrorResponse, HttpHeaders } from '@angular/common/http';
import { DEFAULT_REFRESH_RETRY, backoffDelayMs } from './backoff';
import { FreshTokenError, classifyHttpError, parseRetryAfterMs, toFreshTokenError } from './errors';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);

describe('error classification', () => {
  it('treats network errors, timeouts, 408, 429 and 5xx as transient', () => {
    for (const status of [0, 408, 429, 500, 502, 503, 504]) {
      const e = toFreshTokenError(new HttpErrorResponse({ status }), NOW);
      expect(e.transient).withContext(String(status)).toBeTrue();
      expect(e.code).toBe('NFT201');
    }
    expect(toFreshTokenError(new TypeError('Failed to fetch'), NOW).transient).toBeTrue();
    expect(toFreshTokenError({ $metadata: { httpStatusCode: 503 } }, NOW).transient).toBeTrue();
  });

  it('treats 400, 401 and 403 from the token source as permanent (NFT202)', () => {
    for (const status of [400, 401, 403]) {
      const e = toFreshTokenError(new HttpErrorResponse({ status, error: { error: 'invalid_grant' } }), NOW);
      expect(e.transient).withContext(String(status)).toBeFalse();
      expect(e.code).toBe('NFT202');
      expect(e.status).toBe(status);
    }
  });

  it('names the OAuth error code but never copies free text from the server or the original error', () => {
    const e = toFreshTokenError(new HttpErrorResponse({ status: 400, error: { error: 'invalid_grant' } }), NOW);
    expect(e.message).toContain('invalid_grant');
    const sneaky = toFreshTokenError(new HttpErrorResponse({ status: 400, error: { error: 'refresh_token=abc123 is bad' } }), NOW);
    expect(sneaky.message).not.toContain('abc123');
    const wrapped = toFreshTokenError(new Error('token eyJsecret leaked'), NOW);
    expect(wrapped.message).not.toContain('eyJsecret');
  });

  it('passes a FreshTokenError through unchanged', () => {
    const original = new FreshTokenError('NFT999', 'custom', { transient: true });
    expect(toFreshTokenError(original, NOW)).toBe(original);
  });

  it('reads Retry-After as delta seconds or an HTTP date', () => {
    expect(parseRetryAfterMs('2', NOW)).toBe(2_000);
    expect(parseRetryAfterMs(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30_000);
    expect(parseRetryAfterMs(new Date(NOW - 30_000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfterMs('soon', NOW)).toBeUndefined();
    expect(parseRetryAfterMs(null, NOW)).toBeUndefined();
    const e = toFreshTokenError(new HttpErrorResponse({ status: 429, headers: new HttpHeaders({ 'Retry-After': '7' }) }), NOW);
    expect(e.retryAfterMs).toBe(7_000);
    expect(toFreshTokenError({ status: 503, headers: { 'retry-after': '3' } }, NOW).retryAfterMs).toBe(3_000);
  });
});

describe('classifyHttpError', () => {
  it('never calls a configuration error transient, whatever its status: the BFF\'s NFT410, OAuth invalid_client / unauthorized_client', () => {
    const nft410 = new HttpErrorResponse({ status: 500, error: { error: 'server_error', code: 'NFT410' } });
    expect(classifyHttpError(nft410, NOW).transient).toBeFalse();
    expect(classifyHttpError({ status: 500, error: '{"error":"server_error","code":"NFT410"}' }, NOW).transient).toBeFalse();
    expect(classifyHttpError({ status: 503, error: { error: 'invalid_client' } }, NOW).transient).toBeFalse();
    expect(classifyHttpError({ status: 500, error: { error: 'unauthorized_client' } }, NOW).transient).toBeFalse();
    // Other coded 5xx answers of the BFF (IdP or store unavailable) stay transient.
    expect(classifyHttpError({ status: 503, error: { error: 'temporarily_unavailable', code: 'NFT404' } }, NOW).transient).toBeTrue();
    expect(toFreshTokenError(nft410, NOW).transient).toBeFalse();
  });

  it('calls no answer, 408, 429 and 5xx transient and every other status permanent', () => {
    for (const status of [0, 408, 429, 500, 503, 599]) expect(classifyHttpError({ status }, NOW).transient).withContext(String(status)).toBeTrue();
    for (const status of [301, 400, 401, 403, 404, 409, 422]) expect(classifyHttpError({ status }, NOW).transient).withContext(String(status)).toBeFalse();
    expect(classifyHttpError(new TypeError('Failed to fetch'), NOW)).toEqual({ transient: true, status: undefined });
    expect(classifyHttpError(null, NOW)).toEqual({ transient: true, status: undefined });
    expect(classifyHttpError({ $metadata: { httpStatusCode: 400 } }, NOW)).toEqual({ transient: false, status: 400, oauthError: undefined });
  });

  it('reads Retry-After (seconds or HTTP date, header object or map) on transient answers only', () => {
    expect(classifyHttpError(new HttpErrorResponse({ status: 429, headers: new HttpHeaders({ 'Retry-After': '2' }) }), NOW).retryAfterMs).toBe(2_000);
    expect(classifyHttpError({ status: 503, headers: { 'retry-after': new Date(NOW + 5_000).toUTCString() } }, NOW).retryAfterMs).toBe(5_000);
    expect(classifyHttpError({ status: 400, headers: { 'Retry-After': '2' } }, NOW).retryAfterMs).toBeUndefined();
  });

  it('names the OAuth error of a body given as an object or as JSON text, only when it is a plain identifier', () => {
    expect(classifyHttpError({ status: 400, error: { error: 'invalid_grant' } }, NOW).oauthError).toBe('invalid_grant');
    expect(classifyHttpError({ status: 401, error: JSON.stringify({ error: 'invalid_client', error_description: 'no' }) }, NOW).oauthError).toBe('invalid_client');
    expect(classifyHttpError({ status: 400, error: JSON.stringify({ error: 'eyJhbGciOi.leak' }) }, NOW).oauthError).toBeUndefined();
    expect(classifyHttpError({ status: 400, error: '<html>invalid_grant</html>' }, NOW).oauthError).toBeUndefined();
  });
});

describe('backoffDelayMs', () => {
  it('doubles per retry with equal jitter and a cap', () => {
    expect(backoffDelayMs(1, DEFAULT_REFRESH_RETRY, 0)).toBe(500);
    expect(backoffDelayMs(1, DEFAULT_REFRESH_RETRY, 1)).toBe(1_000);
    expect(backoffDelayMs(3, DEFAULT_REFRESH_RETRY, 0)).toBe(2_000);
    expect(backoffDelayMs(3, DEFAULT_REFRESH_RETRY, 1)).toBe(4_000);
    expect(backoffDelayMs(20, DEFAULT_REFRESH_RETRY, 1)).toBe(15_000);
  });

  it('never waits less than Retry-After', () => {
    expect(backoffDelayMs(1, DEFAULT_REFRESH_RETRY, 0.5, 9_000)).toBe(9_000);
  });
});
