/**
 * Parses an HTTP `Retry-After` value (delta seconds or an HTTP date) into milliseconds from
 * `nowMs`; `undefined` when absent or unreadable.
 *
 * @example
 * parseRetryAfterMs('2', Date.now()); // 2000
 */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

interface HttpLikeError {
  status?: unknown;
  code?: unknown;
  headers?: { get?(name: string): string | null } | Record<string, unknown>;
  error?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function readHeader(headers: HttpLikeError['headers'], name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name);
  }
  const value = (headers as Record<string, unknown>)[name] ?? (headers as Record<string, unknown>)[name.toLowerCase()];
  return typeof value === 'string' ? value : null;
}

/**
 * How an HTTP failure should be treated, as {@link classifyHttpError} decides it. Holds nothing
 * secret: no body text, no header other than `Retry-After`.
 *
 * @example
 * const { transient, retryAfterMs } = classifyHttpError(err, Date.now());
 */
export interface HttpErrorClassification {
  /** `true` when a later attempt may succeed: no HTTP answer (network error, status 0, unknown error), 408, 429 or 5xx — unless the answer names a configuration error. */
  transient: boolean;
  /** The HTTP status the error carries (`status`, or AWS SDK `$metadata.httpStatusCode`); `0` for a network error. */
  status?: number;
  /** The wait requested by `Retry-After` (seconds or HTTP date) on a transient answer, in ms from `nowMs`. */
  retryAfterMs?: number;
  /** The OAuth `error` name of the answer's body (`invalid_grant`, …) when it is a plain identifier; never `error_description`. */
  oauthError?: string;
  /** The ngx-fresh-token code the answer (or the error) names, such as the BFF's `NFT410`; only `NFT` + three digits. */
  code?: string;
}

const OAUTH_ERROR_NAME = /^[a-z_]{1,40}$/;
const CODE = /^NFT\d{3}$/;

function readBody(body: unknown): { error?: unknown; code?: unknown } | null {
  if (typeof body === 'string') {
    // Token endpoints are often read as text: look for `{"error": "...", "code": "..."}` in it.
    try {
      body = JSON.parse(body);
    } catch {
      return null;
    }
  }
  return typeof body === 'object' && body !== null ? (body as { error?: unknown; code?: unknown }) : null;
}

/**
 * Whether an OAuth `error` name or an ngx-fresh-token code says the client itself is misconfigured
 * (`invalid_client`, `unauthorized_client`, the BFF's `NFT410`): trying again cannot help, whatever
 * the HTTP status, so nothing retries it.
 *
 * @example
 * isConfigurationError(undefined, 'NFT410'); // true
 */
export function isConfigurationError(oauthError: string | undefined, code: string | undefined): boolean {
  return oauthError === 'invalid_client' || oauthError === 'unauthorized_client' || code === 'NFT410';
}

/**
 * The one rule for failed HTTP calls, shared by the core, every entry and any integration: no answer
 * (status 0 or none), 408, 429 and 5xx are transient, with `Retry-After` (delta seconds or an HTTP
 * date) in ms; any other status (400, 401, 403, `invalid_grant`, …) is permanent; and an answer that
 * names a configuration error ({@link isConfigurationError}: `invalid_client`, `unauthorized_client`,
 * the BFF's `NFT410`, whatever its status) is never transient. Reads `HttpErrorResponse`-like errors
 * (`status`, `headers`, `error` body as an object or JSON text), `Response`-like ones, errors that
 * carry a `code` of their own, and AWS SDK errors (`$metadata.httpStatusCode`).
 *
 * @example
 * const c = classifyHttpError(new HttpErrorResponse({ status: 429, headers: new HttpHeaders({ 'Retry-After': '2' }) }), Date.now());
 * // c.transient === true, c.status === 429, c.retryAfterMs === 2000
 */
export function classifyHttpError(err: unknown, nowMs: number): HttpErrorClassification {
  const httpErr = (typeof err === 'object' && err !== null ? err : {}) as HttpLikeError;
  const rawStatus = httpErr.status ?? httpErr.$metadata?.httpStatusCode;
  const status = typeof rawStatus === 'number' ? rawStatus : undefined;
  if (status === undefined || status === 0) return { transient: true, status };
  const body = readBody(httpErr.error);
  const oauthError = typeof body?.error === 'string' && OAUTH_ERROR_NAME.test(body.error) ? body.error : undefined;
  const named = body?.code ?? httpErr.code;
  const code = typeof named === 'string' && CODE.test(named) ? named : undefined;
  const result: HttpErrorClassification = { transient: false, status, oauthError };
  if (code) result.code = code;
  if (!(status === 408 || status === 429 || status >= 500) || isConfigurationError(oauthError, code)) return result;
  result.transient = true;
  result.retryAfterMs = parseRetryAfterMs(readHeader(httpErr.headers, 'Retry-After'), nowMs);
  return result;
}
