/// <reference types="node" />
// The API proxy (RFC 10017 §6.1, the BFF proper): the browser calls `/api/orders/…` on its own origin
// with its session cookie and `X-CSRF: 1`; the BFF forwards to the API's target with the token its type
// names (Duende's five: user, user-or-none, client, user-or-client, none), and the token never reaches
// the browser. What is checked, in order: the path stays under the API's path (no dot segments, encoded
// slashes or backslashes: 400, nothing forwarded), the method is allowed (405), CSRF (403), the token
// (no session for `user`: 401, nothing forwarded; the IdP down: 503). Bodies stream both ways through
// node:http/node:https (never buffered, so uploads of any size and server-sent events pass), except a
// small request body, which is kept so a 401 can be retried once with a new token.
import { csrfError } from './csrf';
import { bffError, BffErrorCode, FreshTokenError } from './errors';
import { errorResponse, json, methodNotAllowed, readBodyLimited, SECURITY_HEADERS } from './http';
import type { ClientTokens } from './client-tokens';
import type { CachedToken } from './sessions';

/**
 * Which token a proxied API gets (Duende BFF's token types):
 * - `user`: the session's token for this API; no session answers 401 and nothing is forwarded;
 * - `user-or-none`: the session's token when there is one, else the request goes on without a token;
 * - `client`: the BFF's own client-credentials token for this API (one per process, kept fresh);
 * - `user-or-client`: the session's token, else the BFF's own;
 * - `none`: no token (the proxy still applies its path, method, CSRF and header rules).
 */
export type BffProxyTokenType = 'user' | 'user-or-none' | 'client' | 'user-or-client' | 'none';

/**
 * The proxy part of an API of `createBff({ apis })`: calls to `path` (and below it) on the app's
 * origin go to `target`, with the token of `token`'s type.
 *
 * @example
 * const apis = { orders: { resource: 'https://orders.internal', proxy: { path: '/api/orders', target: 'https://orders.internal/v1', token: 'user' } } };
 */
export interface BffProxyOptions {
  /** The path on the app's origin it answers, and everything below it (`/api/orders` answers `/api/orders/42`). */
  path: string;
  /** Where the calls go: an absolute http(s) URL; the rest of the path and the query are appended. */
  target: string | URL;
  /** Which token goes upstream (see {@link BffProxyTokenType}). */
  token: BffProxyTokenType;
  /** The methods allowed (default: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS); anything else answers 405. */
  methods?: readonly string[];
  /** Allows WebSocket upgrades through `bff.upgrade()` (Node only; default `false`). */
  websocket?: boolean;
  /** Bound on waiting for the upstream's answer (its status and headers) in ms (default 30 000): past it, 504. A body that streams after that is not bounded. */
  timeoutMs?: number;
  /** Lets the upstream's `Set-Cookie` reach the browser (default `false`: dropped). */
  forwardSetCookie?: boolean;
}

/** A proxied API after validation. */
export interface ResolvedProxy {
  name: string;
  path: string;
  target: URL;
  token: BffProxyTokenType;
  methods: ReadonlySet<string>;
  websocket: boolean;
  timeoutMs: number;
  forwardSetCookie: boolean;
  resource?: string;
  scope?: string;
}

/** Extra facts about a request only the server adapter knows, for `X-Forwarded-For`. */
export interface BffRequestInfo {
  /** The client's address as the app's server sees it (`req.socket.remoteAddress`, or what a trusted proxy in front says). */
  clientAddress?: string;
}

export const DEFAULT_PROXY_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const DEFAULT_PROXY_TIMEOUT_MS = 30_000;
/** An answer of known length up to this size is read whole before it is handed on; a larger one (or one of unknown length: SSE) streams. */
const SMALL_ANSWER_BYTES = 64 * 1024;
/** A request body up to this size is kept, so a 401 can be retried with a new token; a larger one streams and is not retried. */
export const MAX_REPLAYED_BODY_BYTES = 64 * 1024;

/** Hop-by-hop headers (RFC 9110 §7.6.1) and what else never crosses the proxy: the browser's credentials and CSRF header, forwarding headers it could forge. */
const DROPPED_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'cookie',
  'authorization',
  'x-csrf',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
  'content-length',
]);
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** The rest of a path that could leave the API's path once an upstream decodes it. */
const ESCAPING_REST = /%2e|%2f|%5c|%00|%25(?:2e|2f|5c)|\\|\/\/|(?:^|\/)\.\.?(?:\/|$)/i;

/** What the proxy needs of the BFF. */
export interface ProxyDeps {
  allowedOrigins: ReadonlySet<string>;
  /** The app's configured origin: `X-Forwarded-Host`/`-Proto` come from it, never from the request. */
  appOrigin: URL;
  /** The session's token for an API (`null`: no session), forcing a new one that replaces `replaces`. */
  userToken(request: Request, api: ResolvedProxy, force?: { replaces: string }): Promise<CachedToken | null>;
  clientTokens: ClientTokens;
}

type Sent = { kind: 'user' | 'client'; token: CachedToken } | { kind: 'none' };

// node:http and node:https, loaded on first use (the rest of the BFF runs in any Web runtime).
interface Transports {
  http: typeof import('node:http');
  https: typeof import('node:https');
  stream: typeof import('node:stream');
  agents: Record<string, import('node:http').Agent>;
}
let transports: Promise<Transports> | null = null;
function loadTransports(): Promise<Transports> {
  if (!transports) {
    transports = Promise.all([import('node:http'), import('node:https'), import('node:stream')]).then(
      ([http, https, stream]): Transports => ({
        http: http as unknown as Transports['http'],
        https: https as unknown as Transports['https'],
        stream: stream as unknown as Transports['stream'],
        agents: { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) },
      }),
    );
  }
  return transports;
}

const gateway = (status: 502 | 504) =>
  status === 504
    ? bffError(BffErrorCode.UpstreamTimeout, 'the API did not answer in time.', { status: 504 })
    : bffError(BffErrorCode.UpstreamUnavailable, 'the API could not be reached (connection refused, reset or closed).', { status: 502 });

/** The proxy of one BFF. */
export function createProxy(apis: readonly ResolvedProxy[], deps: ProxyDeps) {
  // Longest path first, so nested paths cannot shadow each other (createBff refuses overlaps anyway).
  const byPath = [...apis].sort((a, b) => b.path.length - a.path.length);

  /** The proxied API answering `pathname`, or `null`. */
  function match(pathname: string): ResolvedProxy | null {
    for (const api of byPath) if (pathname === api.path || pathname.startsWith(`${api.path}/`)) return api;
    return null;
  }

  async function tokenFor(request: Request, api: ResolvedProxy, force?: { replaces: string }): Promise<Sent | null> {
    if (api.token === 'none') return { kind: 'none' };
    if (api.token !== 'client') {
      const token = await deps.userToken(request, api, force);
      if (token) return { kind: 'user', token };
      if (api.token === 'user') return null;
      if (api.token === 'user-or-none') return { kind: 'none' };
    }
    return { kind: 'client', token: await deps.clientTokens.get({ resource: api.resource, scope: api.scope }, force) };
  }

  /** The headers the upstream gets: the browser's, minus hop-by-hop, credentials and forgeable forwarding headers, plus the token and the proxy's own forwarding headers. */
  function upstreamHeaders(request: Request, sent: Sent, info: BffRequestInfo | undefined): Record<string, string> {
    const headers: Record<string, string> = {};
    const listed = new Set((request.headers.get('connection') ?? '').split(',').map((h) => h.trim().toLowerCase()));
    for (const [name, value] of request.headers) if (!DROPPED_REQUEST_HEADERS.has(name) && !listed.has(name)) headers[name] = value;
    if (sent.kind !== 'none') headers['authorization'] = `Bearer ${sent.token.accessToken}`;
    headers['x-forwarded-host'] = deps.appOrigin.host;
    headers['x-forwarded-proto'] = deps.appOrigin.protocol.slice(0, -1);
    if (info?.clientAddress) headers['x-forwarded-for'] = info.clientAddress;
    return headers;
  }

  async function forward(
    request: Request,
    api: ResolvedProxy,
    upstream: URL,
    body: Uint8Array | ReadableStream<Uint8Array> | null,
    sent: Sent,
    info: BffRequestInfo | undefined,
  ): Promise<Response> {
    const { http, https, stream, agents } = await loadTransports();
    const transport = upstream.protocol === 'https:' ? https : http;
    const headers = upstreamHeaders(request, sent, info);
    const declared = request.headers.get('content-length');
    if (body instanceof Uint8Array) headers['content-length'] = String(body.byteLength);
    else if (body && declared !== null && /^\d+$/.test(declared)) headers['content-length'] = declared;
    return new Promise<Response>((resolve) => {
      let settled = false;
      const settle = (response: Response) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(response);
      };
      const upstreamRequest = transport.request(upstream, { method: request.method, headers, agent: agents[upstream.protocol] }, (res: import('node:http').IncomingMessage) => {
        const answer = new Headers();
        const listed = new Set(String(res.headers['connection'] ?? '').split(',').map((h) => h.trim().toLowerCase()));
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = res.rawHeaders[i].toLowerCase();
          if (DROPPED_RESPONSE_HEADERS.has(name) || listed.has(name)) continue;
          if (name === 'set-cookie' && !api.forwardSetCookie) continue;
          answer.append(name, res.rawHeaders[i + 1]);
        }
        if (sent.kind === 'user' || api.token === 'user-or-none' || api.token === 'user-or-client') answer.append('vary', 'Cookie');
        if (!answer.has('x-content-type-options')) answer.set('x-content-type-options', SECURITY_HEADERS['X-Content-Type-Options']);
        const status = res.statusCode ?? 502;
        const empty = request.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
        if (empty) {
          res.resume();
          return settle(new Response(null, { status, headers: answer }));
        }
        // A small answer of known length is read whole (one buffer instead of a stream: the common JSON
        // case); anything else streams as it comes.
        const length = Number(res.headers['content-length']);
        if (Number.isInteger(length) && length <= SMALL_ANSWER_BYTES) {
          const chunks: Uint8Array[] = [];
          res.on('data', (chunk: Uint8Array) => chunks.push(chunk));
          res.on('end', () => settle(new Response(concat(chunks), { status, headers: answer })));
          res.on('error', () => settle(errorResponse(gateway(502))));
          return;
        }
        settle(new Response(stream.Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>, { status, headers: answer }));
      });
      const timer = setTimeout(() => {
        upstreamRequest.destroy();
        settle(errorResponse(gateway(504)));
      }, api.timeoutMs);
      upstreamRequest.on('error', () => settle(errorResponse(gateway(502))));
      // The browser went away: so does the upstream call.
      request.signal?.addEventListener('abort', () => upstreamRequest.destroy(), { once: true });
      if (body instanceof Uint8Array) upstreamRequest.end(body);
      else if (body) {
        const source = stream.Readable.fromWeb(body as import('node:stream/web').ReadableStream);
        source.on('error', () => upstreamRequest.destroy());
        source.pipe(upstreamRequest);
      } else upstreamRequest.end();
    });
  }

  /** Answers one proxied request (see the top of this file for the order of the checks). */
  async function handle(request: Request, api: ResolvedProxy, info?: BffRequestInfo): Promise<Response> {
    const url = new URL(request.url);
    const rest = url.pathname.slice(api.path.length);
    if (ESCAPING_REST.test(rest)) {
      return errorResponse(bffError(BffErrorCode.ProxyPathRefused, 'the path would leave the API’s path once decoded (dot segments, encoded slashes or backslashes); nothing was forwarded.', { status: 400 }));
    }
    if (!api.methods.has(request.method)) return withCode(methodNotAllowed([...api.methods].join(', ')), BffErrorCode.ProxyMethodRefused);
    const refused = csrfError(request, deps.allowedOrigins, true);
    if (refused) return errorResponse(refused);

    const upstream = new URL(api.target.href);
    upstream.pathname = `${api.target.pathname.replace(/\/$/, '')}${rest}` || '/';
    upstream.search = url.search;

    // The body: none, kept (small: a 401 can be retried), or streamed (not retried).
    let body: Uint8Array | ReadableStream<Uint8Array> | null = null;
    let replayable = true;
    if (request.body && request.method !== 'GET' && request.method !== 'HEAD') {
      const declared = request.headers.get('content-length');
      if (declared !== null && /^\d+$/.test(declared) && Number(declared) <= MAX_REPLAYED_BODY_BYTES) {
        const text = await readBodyLimited(request, MAX_REPLAYED_BODY_BYTES);
        body = text === null ? new Uint8Array() : new TextEncoder().encode(text);
        if (text === null) return errorResponse(bffError(BffErrorCode.ProxyPathRefused, 'the body is longer than its Content-Length says.', { status: 400 }));
      } else {
        body = request.body;
        replayable = false;
      }
    }

    let sent: Sent | null;
    try {
      sent = await tokenFor(request, api);
    } catch (err) {
      if (err instanceof FreshTokenError) return errorResponse(err);
      throw err;
    }
    if (!sent) return json(401, { error: 'unauthenticated' });

    const first = await forward(request, api, upstream, body, sent, info);
    if (first.status !== 401 || sent.kind === 'none' || !replayable) return first;
    // One new token (the same single redemption as /session/token), then one retry.
    let again: Sent | null;
    try {
      again = await tokenFor(request, api, { replaces: sent.token.accessToken });
    } catch (err) {
      await first.body?.cancel().catch(() => undefined);
      if (err instanceof FreshTokenError) return errorResponse(err);
      throw err;
    }
    // No newer token (the bound, or the IdP gave the same one): the API's 401 goes back as it is.
    if (again && again.kind !== 'none' && again.token.accessToken === sent.token.accessToken) return first;
    await first.body?.cancel().catch(() => undefined);
    if (!again) return json(401, { error: 'unauthenticated' });
    return forward(request, api, upstream, body, again, info);
  }

  return { match, handle };
}

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const c of chunks) length += c.byteLength;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A copy of `response` whose JSON body also names `code`. */
function withCode(response: Response, code: string): Response {
  return json(response.status, { error: 'method_not_allowed', code }, { headers: { Allow: response.headers.get('allow') ?? '' } });
}

/** The proxy of one BFF. */
export type Proxy = ReturnType<typeof createProxy>;
