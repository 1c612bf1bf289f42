import { HttpErrorResponse, HttpHeaders } from '@angular/common/http';
import { FreshTokenErrorCode, toFreshTokenError } from 'ngx-fresh-token';
import { createTestJwt } from 'ngx-fresh-token/testing';
import { ɵgrantFromTokenResponse, ɵtokenEndpointError } from './token-endpoint';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

function httpError(status: number, body?: unknown, headers: Record<string, string> = {}): HttpErrorResponse {
  return new HttpErrorResponse({ status, error: body === undefined ? null : JSON.stringify(body), headers: new HttpHeaders(headers), url: '/token' });
}

describe('token endpoint answers', () => {
  it('maps 400 invalid_grant and invalid_client and 401 to a permanent NFT202 that names the OAuth error', () => {
    for (const [status, error] of [
      [400, 'invalid_grant'],
      [400, 'invalid_client'],
      [401, 'invalid_client'],
    ] as const) {
      const mapped = ɵtokenEndpointError(httpError(status, { error, error_description: 'secret-ish detail' }), NOW);
      expect(mapped.code).toBe(FreshTokenErrorCode.SessionEnded);
      expect(mapped.transient).toBeFalse();
      expect(mapped.status).toBe(status);
      expect(mapped.message).toContain(error);
      expect(mapped.message).not.toContain('secret-ish detail');
    }
  });

  it('maps 429 with Retry-After in seconds or as an HTTP date, 5xx and 408 to transient NFT201', () => {
    expect(ɵtokenEndpointError(httpError(429, { error: 'slow_down' }, { 'Retry-After': '2' }), NOW).retryAfterMs).toBe(2_000);
    const dated = ɵtokenEndpointError(httpError(429, undefined, { 'Retry-After': new Date(NOW + 5_000).toUTCString() }), NOW);
    expect(dated.transient).toBeTrue();
    expect(dated.retryAfterMs).toBe(5_000);
    for (const status of [408, 500, 502, 503, 504]) {
      const mapped = ɵtokenEndpointError(httpError(status), NOW);
      expect(mapped.code).toBe(FreshTokenErrorCode.RefreshFailed);
      expect(mapped.transient).toBeTrue();
    }
  });

  it('maps a network error (status 0) to transient and other 4xx to permanent', () => {
    expect(ɵtokenEndpointError(new HttpErrorResponse({ status: 0, error: new ProgressEvent('error') }), NOW).transient).toBeTrue();
    expect(ɵtokenEndpointError(httpError(403, 'not json'), NOW).transient).toBeFalse();
  });

  it('does not copy an OAuth error name that is not a plain identifier', () => {
    const mapped = ɵtokenEndpointError(httpError(400, { error: 'eyJhbGciOi.leak' }), NOW);
    expect(mapped.message).not.toContain('eyJ');
  });

  it('classifies every answer exactly as the core does (one rule: transient, status, Retry-After)', () => {
    const answers = [
      new HttpErrorResponse({ status: 0, error: new ProgressEvent('error') }),
      ...[400, 401, 403, 404, 408, 429, 500, 502, 503].map((status) => httpError(status, { error: 'invalid_grant' }, { 'Retry-After': '3' })),
      httpError(429, undefined, { 'Retry-After': new Date(NOW + 7_000).toUTCString() }),
    ];
    for (const answer of answers) {
      const oauth = ɵtokenEndpointError(answer, NOW);
      const core = toFreshTokenError(answer, NOW);
      expect([oauth.code, oauth.transient, oauth.status, oauth.retryAfterMs])
        .withContext(String(answer.status))
        .toEqual([core.code, core.transient, core.status, core.retryAfterMs]);
    }
  });

  it('turns expires_in into expiresAt for an opaque token, but keeps a JWT on its own exp', () => {
    expect(ɵgrantFromTokenResponse({ access_token: 'opaque', expires_in: 300, id_token: 'idt' }, NOW)).toEqual({
      accessToken: 'opaque',
      expiresAt: NOW + 300_000,
      idToken: 'idt',
    });
    const jwt = createTestJwt({ expiresInSeconds: 60, nowMs: NOW });
    expect(ɵgrantFromTokenResponse({ access_token: jwt, expires_in: 60 }, NOW)).toEqual({ accessToken: jwt });
  });

  it('takes expires_in only as a positive number of seconds, at most a year: anything else is no lifetime, never a token expired on arrival (attacker review)', () => {
    const expiresAtOf = (expiresIn: unknown) => ɵgrantFromTokenResponse({ access_token: 'opaque', expires_in: expiresIn as number }, NOW).expiresAt;
    expect(expiresAtOf('300')).toBe(NOW + 300_000);
    expect(expiresAtOf(1.5)).toBe(NOW + 1_500);
    expect(expiresAtOf(1)).toBe(NOW + 1_000);
    for (const hostile of [null, 0, -5, 'abc', '', ' ', NaN, Infinity, '1e3', true, {}, [], 1e-9, '0.0000001', 0.999]) {
      expect(expiresAtOf(hostile)).withContext(JSON.stringify(hostile)).toBeUndefined();
    }
    expect(expiresAtOf(1e308)).toBe(NOW + 365 * 24 * 3600 * 1000);
  });
});
