// Building the BFF's answers: JSON that no cache keeps, coded errors without secrets.
import { isUsableDpopNonce } from 'ngx-fresh-token/internal';
import { FreshTokenError } from './errors';

/** Headers every answer of the BFF carries: its content type is never sniffed. */
export const SECURITY_HEADERS = { 'X-Content-Type-Options': 'nosniff' } as const;

/** Headers every JSON answer of the BFF carries: nothing it says may be cached or shared. */
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache', Vary: 'Cookie' } as const;

/** A JSON answer, `no-store`, `nosniff`, with extra headers and any `Set-Cookie` lines. */
export function json(status: number, body: unknown, init: { headers?: Record<string, string>; cookies?: string[] } = {}): Response {
  const headers = new Headers({ 'Content-Type': 'application/json', ...NO_STORE, ...SECURITY_HEADERS, ...init.headers });
  for (const cookie of init.cookies ?? []) headers.append('Set-Cookie', cookie);
  return new Response(JSON.stringify(body), { status, headers });
}

/** Short OAuth-style names of the HTTP statuses the BFF answers with. */
const ERROR_NAMES: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthenticated',
  403: 'forbidden',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  500: 'server_error',
  502: 'bad_gateway',
  503: 'temporarily_unavailable',
  504: 'gateway_timeout',
};

/** The answer for a {@link FreshTokenError}: its status, `{ error, code }`, `Retry-After` on 503. */
export function errorResponse(error: FreshTokenError, cookies: string[] = []): Response {
  const headers: Record<string, string> = {};
  if (error.retryAfterMs !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
  const status = error.status ?? 500;
  return json(status, { error: ERROR_NAMES[status] ?? 'error', code: error.code }, { headers, cookies });
}

/** 405 with the methods the route allows. */
export function methodNotAllowed(allow: string): Response {
  return json(405, { error: 'method_not_allowed' }, { headers: { Allow: allow } });
}

/**
 * The request body as text, read only up to `maxBytes`: `null` when it is larger (a `Content-Length`
 * over the limit is refused before anything is read; a body without one is counted as it streams, and
 * the stream is cancelled at the limit).
 */
export async function readBodyLimited(request: Request, maxBytes: number): Promise<string | null> {
  const declared = request.headers.get('content-length');
  if (declared !== null && (!/^\d+$/.test(declared) || Number(declared) > maxBytes)) return null;
  const bytes = await readBytesLimited(request, maxBytes);
  return bytes === null ? null : new TextDecoder().decode(bytes);
}

/** The browser went away before its request body was read: nobody to answer, and not a server error (nothing is logged). */
export class RequestAborted extends Error {
  constructor() {
    super('the request was aborted before its body was read');
  }
}

/** The request body as bytes, exactly `length` of them at most: `null` when it is longer (see {@link readBodyLimited}); rejects with {@link RequestAborted} when the body cannot be read to its end. */
export async function readBytesLimited(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer> | null> {
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let read: ReadableStreamReadResult<Uint8Array>;
    try {
      read = await reader.read();
    } catch {
      throw new RequestAborted();
    }
    const { done, value } = read;
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}

/** The chunks joined into one array. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const chunk of chunks) length += chunk.byteLength;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Escapes text for an HTML attribute or element. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Rejects after `ms` with `onTimeout()`; the timer never keeps a process alive longer than the race. */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Statuses whose answers carry no body (a `Response` with one of them refuses a body). */
export const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 204, 205, 304]);

/**
 * `response` as openid-client may see it: a `DPoP-Nonce` it would remember for every later proof to that origin
 * only when it is well-formed and small (`isUsableDpopNonce`); otherwise the same answer without it. For the IdP's
 * answers and the APIs' alike.
 */
export function withoutUnusableNonce(response: Response): Response {
  const nonce = response.headers.get('dpop-nonce');
  if (nonce === null || isUsableDpopNonce(nonce)) return response;
  const headers = new Headers(response.headers);
  headers.delete('dpop-nonce');
  return new Response(NULL_BODY_STATUSES.has(response.status) ? null : response.body, { status: response.status, statusText: response.statusText, headers });
}
