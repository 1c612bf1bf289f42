import { HttpClient, HttpErrorResponse, HttpHeaders, HttpResponse } from '@angular/common/http';
import { FreshTokenError, FreshTokenErrorCode, classifyHttpError, readJwtTimes } from 'ngx-fresh-token';
import { isConfigurationError } from 'ngx-fresh-token/internal';
import type { FreshTokenClock, TokenGrant } from 'ngx-fresh-token';
import { Observable } from 'rxjs';
import { OAuthErrorCode } from './errors';

/**
 * Default bound of one request to a token or session endpoint (8 s, below the core's 10 s attempt timeout).
 *
 * @example
 * withClientCredentials({ tokenUrl, clientId, clientSecret, tokenRequestTimeoutMs: DEFAULT_TOKEN_REQUEST_TIMEOUT_MS * 2 })
 */
export const DEFAULT_TOKEN_REQUEST_TIMEOUT_MS = 8_000;

/**
 * The timeout options every source of this entry takes, named like the BFF's: `tokenRequestTimeoutMs`
 * bounds one HTTP request to the token or session endpoint (the core's `attemptTimeoutMs` bounds one
 * whole call of the source). `timeoutMs` is its old name.
 *
 * @example
 * const options: TokenRequestTimeoutOptions = { tokenRequestTimeoutMs: 5_000 };
 */
export interface TokenRequestTimeoutOptions {
  /** Bound of one request in ms (default {@link DEFAULT_TOKEN_REQUEST_TIMEOUT_MS}, 8 000); a slower answer is aborted with `NFT304`. */
  tokenRequestTimeoutMs?: number;
  /** @deprecated Use `tokenRequestTimeoutMs` (same meaning); kept for one minor version. */
  timeoutMs?: number;
}

/** @internal The request timeout of `options` (`tokenRequestTimeoutMs`, else the deprecated `timeoutMs`, else 8 s), checked (`NFT303`). */
export function ɵtokenRequestTimeoutMs(fn: string, options: TokenRequestTimeoutOptions): number {
  ɵoptionalPositive(fn, 'tokenRequestTimeoutMs', options.tokenRequestTimeoutMs);
  ɵoptionalPositive(fn, 'timeoutMs', options.timeoutMs);
  return options.tokenRequestTimeoutMs ?? options.timeoutMs ?? DEFAULT_TOKEN_REQUEST_TIMEOUT_MS;
}

/**
 * A successful answer of an OAuth 2 token endpoint (RFC 6749 §5.1), as a login flow receives it.
 *
 * @example
 * const tokens: OAuthTokenResponse = await (await fetch(tokenUrl, { method: 'POST', body })).json();
 */
export interface OAuthTokenResponse {
  /** The access token. */
  access_token: string;
  /** Usually `Bearer`. */
  token_type?: string;
  /** Lifetime of the access token in seconds. */
  expires_in?: number;
  /** A refresh token, present when the server issues or rotates one. */
  refresh_token?: string;
  /** An OpenID Connect ID token. */
  id_token?: string;
  /** Granted scopes, space separated. */
  scope?: string;
}

const devMode = () => typeof ngDevMode === 'undefined' || !!ngDevMode;

/** What one answer of an endpoint looked like, without anything secret from the request. */
interface EndpointAnswer {
  status: number;
  body: string;
}

/**
 * @internal Sends one request through `http` (meant to be built on `HttpBackend`, so no
 * interceptor sees it), bounded by `timeoutMs` on `clock`: on timeout the request is aborted and
 * the promise rejects with a transient `NFT304`. Resolves with the 2xx answer as text; rejects
 * with the `HttpErrorResponse` of any other answer.
 */
export function ɵsendBounded(
  request: Observable<HttpResponse<string>>,
  clock: FreshTokenClock,
  timeoutMs: number,
  what: string,
): Promise<EndpointAnswer> {
  return new Promise<EndpointAnswer>((resolve, reject) => {
    let settled = false;
    const timer = clock.setTimeout(() => {
      settled = true;
      subscription.unsubscribe();
      reject(
        new FreshTokenError(
          OAuthErrorCode.TokenEndpointTimeout,
          devMode() ? `The ${what} did not answer within ${timeoutMs} ms; the request was aborted. Check the URL and the server, or raise tokenRequestTimeoutMs.` : '',
          { transient: true },
        ),
      );
    }, timeoutMs);
    const subscription = request.subscribe({
      next: (res) => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(timer);
        resolve({ status: res.status, body: res.body ?? '' });
      },
      error: (err: unknown) => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(timer);
        reject(err);
      },
    });
  });
}

/**
 * @internal POSTs a form-encoded token request (RFC 6749) and returns the parsed answer, or throws
 * a `FreshTokenError` mapped from the answer (see {@link ɵtokenEndpointError}).
 */
export async function ɵrequestToken(
  http: HttpClient,
  clock: FreshTokenClock,
  url: string,
  params: Record<string, string | undefined>,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<OAuthTokenResponse> {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') form.set(key, value);
  const request = http.post(url, form.toString(), {
    headers: new HttpHeaders({ 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', ...headers }),
    observe: 'response',
    responseType: 'text',
  });
  let answer: EndpointAnswer;
  try {
    answer = await ɵsendBounded(request, clock, timeoutMs, 'token endpoint');
  } catch (err) {
    throw ɵtokenEndpointError(err, clock.now(), 'token endpoint');
  }
  const body = ɵparseJsonObject(answer.body);
  if (!body || typeof body['access_token'] !== 'string' || body['access_token'].length === 0) {
    throw ɵmalformed('token endpoint', 'a JSON object with a non-empty "access_token"');
  }
  return body as unknown as OAuthTokenResponse;
}

/** @internal Parses `text` as a JSON object; `null` when it is not one. */
export function ɵparseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** @internal The coded error for a 2xx answer that cannot be used. */
export function ɵmalformed(what: string, expected: string): FreshTokenError {
  return new FreshTokenError(
    OAuthErrorCode.MalformedTokenResponse,
    devMode() ? `The ${what} answered 2xx but not with ${expected}. Check the URL (an HTML page usually means a wrong path).` : '',
  );
}

/** The longest `expires_in` taken as given (a year): a bigger one is read as this, never as `Infinity`. */
const MAX_EXPIRES_IN_SECONDS = 365 * 24 * 3600;

/** @internal
 * Maps a failed token-endpoint request to a `FreshTokenError`. Whether it is transient, its
 * `Retry-After` and the OAuth `error` name come from the core's `classifyHttpError` (network errors,
 * 408, 429 and 5xx are transient; 400 `invalid_grant` / `invalid_client`, 401 and other 4xx end
 * the session); this function only words the message for the endpoint. Only the status and the
 * OAuth `error` name are kept — never the request, its body or headers.
 *
 * @example
 * ɵtokenEndpointError(new HttpErrorResponse({ status: 429, headers: new HttpHeaders({ 'Retry-After': '2' }) }), Date.now());
 */
export function ɵtokenEndpointError(err: unknown, nowMs: number, what = 'token endpoint'): FreshTokenError {
  if (err instanceof FreshTokenError) return err;
  if (!(err instanceof HttpErrorResponse)) {
    return new FreshTokenError(FreshTokenErrorCode.RefreshFailed, devMode() ? `The request to the ${what} failed.` : '', { transient: true });
  }
  const { transient, status, retryAfterMs, oauthError, code } = classifyHttpError(err, nowMs);
  if (status === 0) {
    return new FreshTokenError(
      FreshTokenErrorCode.RefreshFailed,
      devMode() ? `The ${what} could not be reached (network error, or CORS refused the request).` : '',
      { transient: true, status },
    );
  }
  if (transient) {
    return new FreshTokenError(FreshTokenErrorCode.RefreshFailed, devMode() ? `The ${what} answered HTTP ${status}; retrying later.` : '', {
      transient: true,
      status,
      retryAfterMs,
    });
  }
  const misconfigured = isConfigurationError(oauthError, code);
  return new FreshTokenError(
    // A configuration error the server names keeps its code (the BFF's NFT410): it says nothing about the session.
    (misconfigured && code) || FreshTokenErrorCode.SessionEnded,
    devMode()
      ? `The ${what} rejected the request (HTTP ${status}${oauthError || code ? `, ${oauthError ?? code}` : ''}). ` +
          (misconfigured || status === 401
            ? 'Check the client id and credentials (or the server\'s configuration); no retry is made.'
            : 'The session ended: sign in again.')
      : '',
    { status },
  );
}

/**
 * @internal Turns a token-endpoint answer into a `TokenGrant`. A JWT access token keeps its own
 * `exp` (the core corrects clock skew from its `iat`); otherwise `expires_in` gives `expiresAt`.
 */
export function ɵgrantFromTokenResponse(response: OAuthTokenResponse, receivedAtMs: number): TokenGrant {
  const grant: TokenGrant = { accessToken: response.access_token };
  // A lifetime in seconds (RFC 6749 §5.1): at least one second (a number or numeric string), at most a year.
  // Anything else (null, negative, NaN, 1e-9, 1e308) is no lifetime at all, not a token expired on arrival that
  // would end the session.
  const raw = response.expires_in as unknown;
  const expiresIn = typeof raw === 'number' || (typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(raw)) ? Number(raw) : NaN;
  if (Number.isFinite(expiresIn) && expiresIn >= 1 && readJwtTimes(response.access_token).expMs === undefined) {
    grant.expiresAt = receivedAtMs + Math.min(expiresIn, MAX_EXPIRES_IN_SECONDS) * 1000;
  }
  if (typeof response.id_token === 'string' && response.id_token) grant.idToken = response.id_token;
  return grant;
}

/** @internal Throws `NFT303` naming the option (never its value) when `value` is not a non-empty string. */
export function ɵrequireString(fn: string, name: string, value: unknown): void {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new FreshTokenError(
      OAuthErrorCode.InvalidOAuthOption,
      devMode() ? `${fn}() needs the "${name}" option as a non-empty string.` : '',
    );
  }
}

/** @internal Throws `NFT303` when `value` is set but is not a positive finite number. */
export function ɵoptionalPositive(fn: string, name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)) {
    throw new FreshTokenError(OAuthErrorCode.InvalidOAuthOption, devMode() ? `${fn}() needs "${name}" as a positive number of milliseconds.` : '');
  }
}
