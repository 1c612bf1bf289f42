// CSRF rules of RFC 10017 §6.2: state-changing routes and the token route need a custom header a
// cross-site form or image cannot send; a foreign Origin or a cross-site fetch is refused outright.
import type { HeaderSource } from './cookies';
import { bffError, BffErrorCode, type FreshTokenError } from './errors';
import { SESSION_CSRF_HEADER as CSRF_HEADER } from 'ngx-fresh-token/oauth/server';

/** Whether a `Sec-Fetch-Site` value says cross-site; sent twice, the values arrive joined (`same-origin, cross-site`): any cross-site among them counts. */
export function isCrossSite(site: string | null | undefined): boolean {
  return site != null && site.split(',').some((value) => value.trim().toLowerCase() === 'cross-site');
}

/**
 * Checks a request against the CSRF rules; returns the 403 error, or `null` when it passes.
 * `requireHeader`: the route needs `X-CSRF: 1` (every non-GET route and `/session/token`).
 */
export function csrfError(request: HeaderSource, allowedOrigins: ReadonlySet<string>, requireHeader: boolean): FreshTokenError | null {
  if (isCrossSite(request.headers.get('sec-fetch-site'))) return bffError(BffErrorCode.CsrfRejected, 'a cross-site request was refused (Sec-Fetch-Site: cross-site).', { status: 403 });
  const origin = request.headers.get('origin');
  if (origin !== null && !allowedOrigins.has(origin)) {
    return bffError(BffErrorCode.CsrfRejected, 'a request from a foreign Origin was refused.', { status: 403 });
  }
  if (requireHeader && request.headers.get(CSRF_HEADER) !== '1') {
    return bffError(BffErrorCode.CsrfRejected, `the request lacks the "${CSRF_HEADER}: 1" header (withSessionEndpoint() sends it).`, { status: 403 });
  }
  return null;
}
