/// <reference types="node" />
// The API proxy (RFC 10017 §6.1, the BFF proper): the browser calls `/api/orders/…` on its own origin
// with its session cookie and `X-CSRF: 1`; the BFF forwards to the API's target with the token its type
// names (Duende's five: user, user-or-none, client, user-or-client, none), and the token never reaches
// the browser. What is checked, in order: the path stays under the API's path for any upstream (an
// allowlist of characters and percent-encodings, no dot or empty segment: 400, nothing forwarded), the
// method is allowed (405), CSRF (403), the request is for the app's origin (400), the token (no session
// for `user`: 401, nothing forwarded; the IdP down: 503). Only allowlisted request headers cross. Bodies
// stream both ways through node:http/node:https (never buffered, so uploads of any size and server-sent
// events pass; a streamed body's length is enforced), except a small request body, which is kept as
// bytes so a 401 can be retried once with a new token, and a small answer, which is read whole.
import type { HeaderSource } from './cookies';
import { csrfError } from './csrf';
import { bffError, BffErrorCode, FreshTokenError } from './errors';
import { concatBytes, errorResponse, json, methodNotAllowed, NULL_BODY_STATUSES, readBytesLimited, SECURITY_HEADERS, withoutUnusableNonce } from './http';
import type { ClientTokens } from './client-tokens';
import type { DpopKeys } from './dpop';
import { client } from './oidc';
import type { CachedToken } from './sessions';

/**
 * Which token a proxied API gets (Duende BFF's token types):
 * - `user`: the session's token for this API; no session answers 401 (marked `X-BFF-Session: none`) and nothing is forwarded;
 * - `user-or-none`: the session's token when there is one, else the request goes on without a token;
 * - `client`: the BFF's own client-credentials token for this API (one per process, kept fresh);
 * - `user-or-client`: the session's token, else the BFF's own;
 * - `none`: no token (the proxy still applies its path, method, CSRF and header rules).
 *
 * @example
 * const token: BffProxyTokenType = 'user-or-client'; // the session's token, else the BFF's own
 * const apis = { reports: { proxy: { path: '/api/reports', target: 'https://reports.internal', token } } };
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
  /** Lets the upstream's `Set-Cookie` reach the browser (default `false`: dropped); never for the BFF's own cookie names. */
  forwardSetCookie?: boolean;
  /** Request headers forwarded beyond {@link FORWARDED_REQUEST_HEADERS} (lower-case names; credentials, framing and forwarding headers are refused). */
  forwardHeaders?: readonly string[];
  /** The largest WebSocket message relayed either way, in bytes (default 1 MiB); a larger one closes the connection (1009). */
  maxMessageBytes?: number;
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
  forwardHeaders: ReadonlySet<string>;
  maxMessageBytes: number;
  resource?: string;
  scope?: string;
}

/**
 * Extra facts about a request only the server adapter knows, for `X-Forwarded-For`.
 *
 * @example
 * const info: BffRequestInfo = { clientAddress: req.socket.remoteAddress }; // becomes X-Forwarded-For
 * const response = await bff.handle(request, info);
 */
export interface BffRequestInfo {
  /** The client's address as the app's server sees it (`req.socket.remoteAddress`, or what a trusted proxy in front says). */
  clientAddress?: string;
}

export const DEFAULT_PROXY_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export const DEFAULT_PROXY_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** An answer up to this size is read whole before it is handed on (of known length, or of unknown length and complete within one turn of the event loop); a larger one (or one still coming: SSE) streams. */
const SMALL_ANSWER_BYTES = 64 * 1024;

/** A request body up to this size is kept, so a 401 can be retried with a new token; a larger one streams and is not retried. */
export const MAX_REPLAYED_BODY_BYTES = 64 * 1024;

/**
 * The request headers that cross the proxy (an allowlist: anything else — the browser's cookies and
 * credentials, X-CSRF, hop-by-hop headers, every `Forwarded`/`X-Forwarded-*`/`X-Original-*`/method-override
 * or client-IP header a browser could forge — stays here). `proxy.forwardHeaders` adds names.
 */
export const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'content-encoding',
  'content-language',
  'content-type',
  'if-match',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'if-unmodified-since',
  'pragma',
  'range',
  'user-agent',
  'traceparent',
  'tracestate',
  'baggage',
  'x-request-id',
  'x-correlation-id',
] as const;
/** Names no `forwardHeaders` can add: they carry credentials, framing or forwarding the proxy owns. */
export const NEVER_FORWARDED_HEADERS = /^(?:cookie|authorization|x-csrf|host|content-length|transfer-encoding|connection|keep-alive|upgrade|te|trailer|proxy-.*|forwarded|x-forwarded-.*|x-original-.*|x-rewrite-url|.*method-override.*|x-real-ip|true-client-ip|x-client-ip|cf-connecting-ip|x-remote-.*|x-auth-request-.*|dpop)$/;
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'clear-site-data', 'service-worker-allowed', 'x-bff-session']);

/** Look-alikes of `.`, `/` and `\\` that some servers fold into them (full-width, one-dot leader, division slash, …). */
const LOOKALIKES = /[\u2024\u2044\u2215\u29f8\u3002\ufe52\ufe68\uff0e\uff0f\uff3c\uff61]/;

/** Characters that give a path its structure (segments, parameters, escapes, query, fragment). */
const STRUCTURAL = ['/', '\\', ';', '%', '?', '#'];
const count = (text: string, c: string) => text.split(c).length - 1;

/**
 * Whether the rest of a proxied path (after the API's `path`) stays under it for any upstream: only
 * unreserved characters, sub-delimiters but `;`, `:`, `@`, `/` and percent-encodings; no encoded `.`, `/`,
 * `\\`, `;`, `%` or control character; valid UTF-8 once decoded (no overlong forms), no look-alike of a
 * dot or a slash, nothing that Unicode compatibility folding (NFKC) turns into a slash, backslash, `;`, `%`, `?`,
 * `#` or a segment of dots only; no empty segment (`//`) and no dot segment. Shared by HTTP and WebSockets.
 */
export function isSafeRest(rest: string): boolean {
  if (rest !== '' && !rest.startsWith('/')) return false;
  // The common case, ASCII without a percent-encoding: nothing to decode or fold; only the segments to check.
  if (PLAIN_REST.test(rest)) return hasPlainSegments(rest);
  if (!/^[A-Za-z0-9\-._~!$&'()*+,=:@/%]*$/.test(rest) || /%(?![0-9A-Fa-f]{2})/.test(rest)) return false;
  for (const match of rest.matchAll(/%([0-9A-Fa-f]{2})/g)) {
    const byte = parseInt(match[1], 16);
    if (byte < 0x20 || byte === 0x7f || byte === 0x2e || byte === 0x2f || byte === 0x5c || byte === 0x3b || byte === 0x25) return false;
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    return false; // not UTF-8 (overlong forms among them)
  }
  if (LOOKALIKES.test(decoded)) return false;
  // What a server that folds Unicode compatibility forms (NFKC: U+2025 '‥' is '..', U+FE30 '︰' is '..', U+FF0F is
  // '/') would see: no separator, parameter, escape, query or fragment the path did not spell out, and no segment
  // of dots only ('…' is fine inside a word, as in 'wait…'; alone it is '...', which Windows reads as '..').
  const folded = decoded.normalize('NFKC');
  if (folded !== decoded && (STRUCTURAL.some((c) => count(folded, c) > count(decoded, c)) || folded.split('/').some((s) => /^\.+$/.test(s)))) return false;
  return hasPlainSegments(rest);
}

/** The allowed characters of {@link isSafeRest} but `%`: a path that decodes and folds to itself. */
const PLAIN_REST = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]*$/;

/** No empty segment (`//`, a trailing `/` is fine) and no dot segment. */
function hasPlainSegments(rest: string): boolean {
  return !rest.split('/').slice(1).some((segment, i, all) => (segment === '' && i < all.length - 1) || segment === '.' || segment === '..');
}

/**
 * The header (and value) that marks the proxy's own 401 — no session (anymore) for an API with `user`
 * tokens — apart from an API's own 401, which goes back as it is, unmarked. The browser's `withBffProxy()`
 * ends the session (proxy-only mode) on a marked 401 only.
 *
 * @example
 * const signedOut = response.status === 401 && response.headers.get(BFF_SESSION_HEADER) === 'none'; // the proxy's own 401
 */
export const BFF_SESSION_HEADER = 'X-BFF-Session';

/** The proxy's own 401: no session; marked with {@link BFF_SESSION_HEADER}. */
const noSession = () => json(401, { error: 'unauthenticated' }, { headers: { [BFF_SESSION_HEADER]: 'none' } });

/** What the proxy needs of the BFF. */
export interface ProxyDeps {
  allowedOrigins: ReadonlySet<string>;
  /** The app's configured origin: `X-Forwarded-Host`/`-Proto` come from it, never from the request. */
  appOrigin: URL;
  /** The BFF's own cookie names (an upstream may never set them). */
  ownCookie(name: string): boolean;
  /** DPoP, when the BFF has a key: proofs for tokens bound to it (see dpop.ts). */
  dpop: Pick<DpopKeys, 'handleFor' | 'resourceConfig'> | null;
  /** The session's token for an API (`null`: no session), forcing a new one that replaces `replaces`. */
  userToken(request: HeaderSource, api: ResolvedProxy, force?: { replaces: string }): Promise<CachedToken | null>;
  clientTokens: ClientTokens;
}

type NodeReadable = import('node:stream').Readable;
/** A body on its way: whole bytes, a Node stream (node:http's), or a Web stream (a Web Request's, openid-client's). */
export type ProxyBody = Uint8Array | NodeReadable | ReadableStream<Uint8Array>;

/**
 * One proxied request as a front end gives it: a Web `Request` ({@link webCall}), or node:http's request
 * and response (node.ts). The checks, the token and the upstream call are the same for both.
 */
export interface ProxyCall extends HeaderSource {
  readonly method: string;
  /** The request's header lines (lower-case names) that `keep` keeps, as one record (repeated lines joined by `, `). */
  headersKept(keep: (name: string) => boolean): Record<string, string>;
  /** Whether the request has a body (never for GET and HEAD). */
  readonly hasBody: boolean;
  /** The body whole, at most `maxBytes` of it: `null` when it is longer. */
  readBytes(maxBytes: number): Promise<Uint8Array | null>;
  /** The body as it streams (read once). */
  stream(): ProxyBody;
  /** Runs `abort` when the browser goes away before its answer is complete. */
  onAbort(abort: () => void): void;
}

/**
 * The header names a `Connection` value lists (lower case), added to `into`: the headers of one hop only (RFC 9110
 * §7.6.1). `keep-alive` and `close`, the usual values, name no header: `into` as it was, no set made.
 */
function connectionNames(value: string | null, into: Set<string> | null): Set<string> | null {
  if (value === null || /^\s*(?:keep-alive|close)\s*$/i.test(value)) return into;
  const names = into ?? new Set<string>();
  for (const name of value.split(',')) names.add(name.trim().toLowerCase());
  return names;
}

/** A Web `Request` as a {@link ProxyCall}. */
export function webCall(request: Request): ProxyCall {
  return {
    headers: request.headers,
    method: request.method,
    headersKept(keep) {
      const kept: Record<string, string> = {};
      for (const [name, value] of request.headers) if (keep(name)) kept[name] = value;
      return kept;
    },
    hasBody: request.body !== null && request.method !== 'GET' && request.method !== 'HEAD',
    readBytes: (maxBytes) => readBytesLimited(request, maxBytes),
    stream: () => request.body!,
    onAbort: (abort) => (request.signal.aborted ? abort() : request.signal.addEventListener('abort', abort, { once: true })),
  };
}

/** The proxy's answer before a front end writes it: the upstream's (shaped), or the BFF's own (a Response: an error, the 401 of no session). */
export type ProxyAnswer = Response | UpstreamAnswer;

/** Whether a body is a Web stream (else whole bytes or a Node stream). */
export const isWebStream = (body: ProxyBody): body is ReadableStream<Uint8Array> => typeof (body as ReadableStream).getReader === 'function';

type Sent = { kind: 'user' | 'client'; token: CachedToken } | { kind: 'none' };

// node:http and node:https, loaded on first use (the rest of the BFF runs in any Web runtime).
interface Transports {
  http: typeof import('node:http');
  https: typeof import('node:https');
  stream: typeof import('node:stream');
  agents: Record<string, import('node:http').Agent>;
}
let transports: Promise<Transports> | null = null;
export function loadTransports(): Promise<Transports> {
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

const ALLOWED: ReadonlySet<string> = new Set(FORWARDED_REQUEST_HEADERS);

/** The proxy of one BFF. */
export function createProxy(apis: readonly ResolvedProxy[], deps: ProxyDeps) {
  // Longest path first, so nested paths cannot shadow each other (createBff refuses overlaps anyway).
  const byPath = [...apis].sort((a, b) => b.path.length - a.path.length);

  /** The proxied API answering `pathname`, or `null`. */
  function match(pathname: string): ResolvedProxy | null {
    for (const api of byPath) if (pathname === api.path || pathname.startsWith(`${api.path}/`)) return api;
    return null;
  }

  async function tokenFor(request: HeaderSource, api: ResolvedProxy, force?: { replaces: string }): Promise<Sent | null> {
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
  function upstreamHeaders(call: ProxyCall, api: ResolvedProxy, sent: Sent, info: BffRequestInfo | undefined): Record<string, string> {
    // A header the browser's Connection names is for this hop only (RFC 9110 §7.6.1): never forwarded.
    const hopOnly = connectionNames(call.headers.get('connection'), null);
    const headers = call.headersKept((name) => (ALLOWED.has(name) || api.forwardHeaders.has(name)) && !hopOnly?.has(name));
    if (sent.kind !== 'none') headers['authorization'] = `Bearer ${sent.token.accessToken}`;
    headers['x-forwarded-host'] = deps.appOrigin.host;
    headers['x-forwarded-proto'] = deps.appOrigin.protocol.slice(0, -1);
    if (info?.clientAddress) headers['x-forwarded-for'] = info.clientAddress;
    return headers;
  }

  /** Why a call to the upstream failed: no connection (502) or no answer in time (504). */
  class UpstreamFailure extends Error {
    constructor(readonly status: 502 | 504) {
      super(status === 504 ? 'upstream timeout' : 'upstream unreachable');
    }
  }

  /**
   * One HTTP exchange with the upstream through node:http(s): the raw answer (small answers of known
   * length read whole, the rest streamed), or an {@link UpstreamFailure}. Also, as a Response
   * ({@link asResponse}), openid-client's `customFetch` for DPoP calls, so DPoP proofs and nonces stay
   * openid-client's while bodies still stream.
   */
  async function send(
    api: ResolvedProxy,
    server: URL,
    path: string,
    method: string,
    headers: Record<string, string>,
    body: ProxyBody | null | undefined,
    declaredLength: number | null,
    onAbort?: (abort: () => void) => void,
  ): Promise<UpstreamAnswer> {
    const { http, https, stream, agents } = await loadTransports();
    const transport = server.protocol === 'https:' ? https : http;
    // Options rather than a URL (node:http would turn the URL into these on every call); an IPv6 host loses its brackets.
    const hostname = server.hostname.startsWith('[') ? server.hostname.slice(1, -1) : server.hostname;
    const options = { protocol: server.protocol, hostname, port: server.port, path, method, headers, agent: agents[server.protocol] };
    if (body instanceof Uint8Array) headers['content-length'] = String(body.byteLength);
    else if (body && declaredLength !== null) headers['content-length'] = String(declaredLength);
    // A streamed body of unknown length is always framed: node:http chunks it by itself only for methods that usually
    // carry a body, and would send a DELETE's or an OPTIONS' bytes raw on the kept-alive connection, for the API to
    // read as a request of its own (request smuggling, found by the attacker review).
    else if (body) headers['transfer-encoding'] = 'chunked';
    return new Promise<UpstreamAnswer>((resolve, reject) => {
      let settled = false;
      const settle = (response: UpstreamAnswer | UpstreamFailure) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (response instanceof UpstreamFailure) reject(response);
        else resolve(response);
      };
      const upstreamRequest = transport.request(options, (res: import('node:http').IncomingMessage) => {
        const status = res.statusCode ?? 502;
        // A status a Response cannot carry (1xx, 600–999): the upstream is broken.
        if (status < 200 || status > 599) {
          res.destroy();
          return settle(new UpstreamFailure(502));
        }
        // Names in lower case, as a Headers object would have them; values are checked once, when the
        // browser's Response is built (see asResponse).
        const headers: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        if (method === 'HEAD' || NULL_BODY_STATUSES.has(status)) {
          res.resume();
          return settle({ status, headers, body: null });
        }
        // A small answer of known length is read whole (one buffer instead of a stream: the common JSON
        // case); a large one streams as it comes.
        const length = Number(res.headers['content-length']);
        const chunks: Uint8Array[] = [];
        res.on('error', () => settle(new UpstreamFailure(502)));
        if (Number.isInteger(length) && length <= SMALL_ANSWER_BYTES) {
          res.on('data', (chunk: Uint8Array) => chunks.push(chunk));
          res.on('end', () => settle({ status, headers, body: concatBytes(chunks) }));
          return;
        }
        const streamed = () => settle({ status, headers, body: res });
        if (Number.isInteger(length)) return streamed();
        // Unknown length (chunked): a small answer that arrived with its headers (a small JSON answer of a
        // server that does not say its length) is still read whole: what came in this turn of the event
        // loop is kept; whatever has not ended by the next turn (server-sent events, a large or slow body)
        // streams from there, the bytes kept first, so an event is never held back past that turn.
        let bytes = 0;
        const toStream = () => {
          clearImmediate(turn);
          res.pause();
          res.off('data', collect);
          res.off('end', whole);
          for (let i = chunks.length - 1; i >= 0; i--) res.unshift(chunks[i]);
          streamed();
        };
        const collect = (chunk: Uint8Array) => {
          chunks.push(chunk);
          bytes += chunk.byteLength;
          if (bytes > SMALL_ANSWER_BYTES) toStream();
        };
        const whole = () => {
          clearImmediate(turn);
          settle({ status, headers, body: concatBytes(chunks) });
        };
        const turn = setImmediate(toStream);
        res.on('data', collect);
        res.on('end', whole);
      });
      const timer = setTimeout(() => {
        upstreamRequest.destroy();
        settle(new UpstreamFailure(504));
      }, api.timeoutMs);
      upstreamRequest.on('error', () => settle(new UpstreamFailure(502)));
      // A 101 to a request that asked for no upgrade: Node hands it to 'upgrade', never to the answer callback.
      upstreamRequest.on('upgrade', (_res: unknown, socket: { destroy(): void }) => {
        socket.destroy();
        settle(new UpstreamFailure(502));
      });
      // The browser went away: so does the upstream call.
      onAbort?.(() => upstreamRequest.destroy());
      if (body instanceof Uint8Array) upstreamRequest.end(body);
      else if (body) {
        // A streamed body's length is enforced, not trusted: more bytes than declared would be a second
        // request on the kept-alive upstream connection.
        let sentBytes = 0;
        const counter = new stream.Transform({
          transform(chunk: Uint8Array, _encoding, done) {
            sentBytes += chunk.byteLength;
            if (declaredLength !== null && sentBytes > declaredLength) return done(new Error('body longer than its Content-Length'));
            done(null, chunk);
          },
          flush(done) {
            done(declaredLength !== null && sentBytes !== declaredLength ? new Error('body shorter than its Content-Length') : null);
          },
        });
        const source = isWebStream(body) ? stream.Readable.fromWeb(body as import('node:stream/web').ReadableStream) : body;
        const fail = () => upstreamRequest.destroy();
        source.on('error', fail);
        counter.on('error', fail);
        source.pipe(counter).pipe(upstreamRequest);
      } else upstreamRequest.end();
    });
  }

  /**
   * The upstream's answer as the browser gets it: hop-by-hop and dangerous headers dropped, user answers
   * private. One pass over the upstream's headers, one Response (its Headers object is the only one built).
   */
  function shape(raw: UpstreamAnswer, api: ResolvedProxy, sent: Sent): UpstreamAnswer {
    let listed: Set<string> | null = null;
    const cacheControls: string[] = [];
    for (const [name, value] of raw.headers) {
      if (name === 'connection') listed = connectionNames(value, listed);
      else if (name === 'cache-control') cacheControls.push(value);
    }
    const headers: [string, string][] = [];
    let nosniff = false;
    const user = sent.kind === 'user' || api.token === 'user-or-none' || api.token === 'user-or-client';
    for (const entry of raw.headers) {
      const name = entry[0];
      if (DROPPED_RESPONSE_HEADERS.has(name) || listed?.has(name) || name === 'set-cookie' || (user && name === 'cache-control')) continue;
      if (name === 'content-length' && raw.status === 204) continue; // a 204 has no content, nor a length (RFC 9110 §8.6)
      if (name === 'x-content-type-options') nosniff = true;
      headers.push(entry);
    }
    if (api.forwardSetCookie) for (const [name, line] of raw.headers) if (name === 'set-cookie' && mayForwardCookie(line)) headers.push(['set-cookie', line]);
    if (user) {
      headers.push(['vary', 'Cookie']);
      // One user's answer: never for a shared cache (the browser's request carries a cookie, not Authorization).
      const cacheControl = cacheControls.length ? cacheControls.join(', ') : null;
      if (!cacheControl) headers.push(['cache-control', 'private']);
      else if (!/\b(?:private|no-store)\b/i.test(cacheControl)) {
        const rest = cacheControl.split(',').map((d) => d.trim()).filter((d) => d && !/^(?:public|s-maxage=.*)$/i.test(d));
        headers.push(['cache-control', ['private', ...rest].join(', ')]);
      } else headers.push(['cache-control', cacheControl]);
    }
    if (!nosniff) headers.push(['x-content-type-options', SECURITY_HEADERS['X-Content-Type-Options']]);
    return { status: raw.status, headers, body: raw.body };
  }

  /**
   * Whether an upstream's Set-Cookie line may reach the browser: a named cookie that is none of the BFF's. A nameless one
   * (`=nft-session=…`, or no `=` before the first `;`) never: a browser keeps it and sends back its value alone, which reads
   * as `nft-session=…` (RFC 6265bis §5.6; found by the second attacker review).
   */
  function mayForwardCookie(line: string): boolean {
    const pair = line.split(';', 1)[0];
    const eq = pair.indexOf('=');
    const name = eq > 0 ? pair.slice(0, eq).trim() : '';
    return name !== '' && !deps.ownCookie(name);
  }

  /** One call upstream with `sent`'s token: bearer, or DPoP through openid-client when the token is bound to the BFF's key. */
  async function forward(
    call: ProxyCall,
    api: ResolvedProxy,
    path: string,
    body: ProxyBody | null,
    sent: Sent,
    info: BffRequestInfo | undefined,
  ): Promise<ProxyAnswer> {
    const declared = call.headers.get('content-length');
    const declaredLength = declared !== null && /^\d+$/.test(declared) ? Number(declared) : null;
    try {
      if (sent.kind !== 'none' && sent.token.jkt) return shape(answerOf(await sendDpop(call, api, new URL(path, api.target), body, declaredLength, sent.token, info)), api, sent);
      const headers = upstreamHeaders(call, api, sent, info);
      return shape(await send(api, api.target, path, call.method, headers, body, declaredLength, call.onAbort), api, sent);
    } catch (err) {
      if (err instanceof FreshTokenError) return errorResponse(err);
      const failure = err instanceof UpstreamFailure ? err : (err as { cause?: unknown } | null)?.cause;
      return errorResponse(gateway(failure instanceof UpstreamFailure ? failure.status : 502));
    }
  }

  /**
   * A call with a DPoP-bound token: `Authorization: DPoP <token>` and a fresh proof (htm, htu, ath) made by
   * openid-client's DPoP handle for the key the token is bound to; a 401 asking for a nonce
   * (`use_dpop_nonce` + `DPoP-Nonce`) is retried once with it, and the nonce is remembered per origin.
   */
  async function sendDpop(
    call: ProxyCall,
    api: ResolvedProxy,
    upstream: URL,
    body: ProxyBody | null,
    declaredLength: number | null,
    token: CachedToken,
    info: BffRequestInfo | undefined,
  ): Promise<Response> {
    const handle = deps.dpop?.handleFor(token.jkt!);
    if (!handle || !deps.dpop) {
      // Bound to a key this instance lacks even after a new token (another instance's newer key: a rolling deploy).
      throw bffError(BffErrorCode.IdpUnavailable, 'the token is bound to a DPoP key this instance does not hold (a key rotation under way); try again shortly.', { status: 503, retryAfterSeconds: 5 });
    }
    const headers = new Headers(upstreamHeaders(call, api, { kind: 'none' }, info));
    // openid-client takes bytes or a Web stream and hands the body to the fetch below as it is: a Node stream
    // (handleNode's request) is represented by a Web stream that is never read, and sent itself. (Wrapping it with
    // Readable.toWeb would start reading it into a second consumer.)
    const clientBody = body === null || body instanceof Uint8Array || isWebStream(body) ? body : new ReadableStream<Uint8Array>();
    // A streamed body cannot be sent twice: when the API asks for a (new) nonce on it, its 401 goes back
    // as it is (the nonce is remembered, so the browser's next request carries it).
    let last: Response | undefined;
    const fetch: client.CustomFetch = async (url, init) => {
      if (last) {
        if (body && !(body instanceof Uint8Array)) return last;
        await last.body?.cancel().catch(() => undefined);
      }
      // A nonce openid-client would remember for every later proof to this origin: only a well-formed, small one.
      const sentBody = init.body === clientBody ? body : (init.body as ProxyBody | null);
      const to = new URL(url);
      last = withoutUnusableNonce(asResponse(await webAnswer(send(api, to, `${to.pathname}${to.search}`, init.method, { ...init.headers }, sentBody, declaredLength, call.onAbort))));
      return last;
    };
    try {
      return await client.fetchProtectedResource(deps.dpop.resourceConfig(fetch), token.accessToken, upstream, call.method, clientBody as client.FetchBody, headers, { DPoP: handle });
    } catch (err) {
      // The API answered, and openid-client refused the answer (a challenge left after its one nonce
      // retry, a WWW-Authenticate it cannot parse): the API's answer goes back as it is.
      if (last && !(err instanceof UpstreamFailure) && !((err as { cause?: unknown } | null)?.cause instanceof UpstreamFailure)) return last;
      throw err;
    }
  }

  /** Answers one proxied request (see the top of this file for the order of the checks). */
  async function handleCall(call: ProxyCall, api: ResolvedProxy, url: URL, info?: BffRequestInfo): Promise<ProxyAnswer> {
    const rest = url.pathname.slice(api.path.length);
    if (!isSafeRest(rest)) {
      return errorResponse(bffError(BffErrorCode.ProxyPathRefused, 'the path would leave the API’s path once decoded (dot segments, encoded slashes or backslashes); nothing was forwarded.', { status: 400 }));
    }
    if (!api.methods.has(call.method)) return withCode(methodNotAllowed([...api.methods].join(', ')), BffErrorCode.ProxyMethodRefused);
    const refused = csrfError(call, deps.allowedOrigins, true);
    if (refused) return errorResponse(refused);
    // A transfer coding other than chunked (gzip, …) would reach the API as plain bytes of another meaning.
    const coding = call.headers.get('transfer-encoding');
    if (coding !== null && !/^\s*chunked\s*$/i.test(coding)) {
      return errorResponse(bffError(BffErrorCode.ProxyPathRefused, 'a transfer coding other than chunked is not forwarded.', { status: 400 }));
    }
    // Only for the app's own origin: an adapter that builds the URL from the Host header must not let a
    // Host with a path in it pick what is proxied.
    if (!deps.allowedOrigins.has(url.origin)) {
      return errorResponse(bffError(BffErrorCode.ProxyPathRefused, "the request is not for the app's origin (check the Host header, and trustProxyHeaders behind a proxy).", { status: 400 }));
    }

    // The target's path, the rest (checked above: only characters a URL path keeps as they are) and the query.
    const path = `${`${api.target.pathname.replace(/\/$/, '')}${rest}` || '/'}${url.search}`;

    let sent: Sent | null;
    try {
      // (A user token bound to a DPoP key this BFF does not hold is replaced once by userToken: see bff.ts.)
      sent = await tokenFor(call, api);
    } catch (err) {
      if (err instanceof FreshTokenError) return errorResponse(err);
      throw err;
    }
    if (!sent) return noSession();

    // The body: none, kept as bytes (small: a 401 can be retried), or streamed (not retried).
    let body: ProxyBody | null = null;
    let replayable = true;
    if (call.hasBody) {
      const declared = call.headers.get('content-length');
      if (declared !== null && /^\d+$/.test(declared) && Number(declared) <= MAX_REPLAYED_BODY_BYTES) {
        const bytes = await call.readBytes(Number(declared));
        if (bytes === null) return errorResponse(bffError(BffErrorCode.ProxyPathRefused, 'the body is longer than its Content-Length says.', { status: 400 }));
        body = bytes;
      } else {
        body = call.stream();
        replayable = false;
      }
    }

    const first = await forward(call, api, path, body, sent, info);
    if (first.status !== 401 || sent.kind === 'none' || !replayable) return first;
    // A DPoP nonce challenge left after openid-client's one nonce retry is about the proof, not the token:
    // a new token would not help (an API that always asks for a new nonce must not cost redemptions).
    if (sent.token.jkt && /\buse_dpop_nonce\b/i.test(headerOf(first, 'www-authenticate') ?? '')) return first;
    // One new token (the same single redemption as /session/token), then one retry.
    let again: Sent | null;
    try {
      again = await tokenFor(call, api, { replaces: sent.token.accessToken });
    } catch (err) {
      await discard(first);
      if (err instanceof FreshTokenError) return errorResponse(err);
      throw err;
    }
    // No newer token (the bound, or the IdP gave the same one): the API's 401 goes back as it is.
    if (again && again.kind !== 'none' && again.token.accessToken === sent.token.accessToken) return first;
    await discard(first);
    if (!again) return noSession();
    return forward(call, api, path, body, again, info);
  }

  /** Answers one proxied request made as a Web `Request`. */
  async function handle(request: Request, api: ResolvedProxy, info?: BffRequestInfo, url = new URL(request.url)): Promise<Response> {
    const answer = await handleCall(webCall(request), api, url, info);
    return answer instanceof Response ? answer : asResponse(await webAnswer(answer));
  }

  /**
   * The token a call to `api` carries, by its token type: `null` when a `user` API has no session; `undefined`
   * when the call goes without one (`none`, or `user-or-none` signed out). WebSocket handshakes use it too.
   */
  async function tokenOf(request: HeaderSource, api: ResolvedProxy): Promise<CachedToken | null | undefined> {
    const sent = await tokenFor(request, api);
    return sent === null ? null : sent.kind === 'none' ? undefined : sent.token;
  }

  return { match, handle, handleCall, tokenOf };
}

/** An upstream's answer before a front end writes it: lower-case header names, every line apart (Set-Cookie too). */
export interface UpstreamAnswer {
  status: number;
  headers: [string, string][];
  body: ProxyBody | null;
}

/** The value of header `name` (lower case) of an answer, its lines joined as a Headers object joins them. */
function headerOf(answer: ProxyAnswer, name: string): string | null {
  if (answer instanceof Response) return answer.headers.get(name);
  const values = answer.headers.filter(([n]) => n === name).map(([, v]) => v);
  return values.length ? values.join(', ') : null;
}

/** Lets go of an answer's body (an answer that is not handed on). */
async function discard(answer: ProxyAnswer): Promise<void> {
  const body = answer.body;
  if (!body || body instanceof Uint8Array) return;
  if (isWebStream(body)) await body.cancel().catch(() => undefined);
  else (body as NodeReadable).destroy();
}

/** An answer whose body a Response can carry: a Node stream becomes a Web stream. */
async function webAnswer(answer: UpstreamAnswer | Promise<UpstreamAnswer>): Promise<UpstreamAnswer> {
  const settled = await answer;
  const body = settled.body;
  if (!body || body instanceof Uint8Array || isWebStream(body)) return settled;
  const { stream } = await loadTransports();
  return { ...settled, body: stream.Readable.toWeb(body) as unknown as ReadableStream<Uint8Array> };
}

/** The answer as a Response; a header line a Headers object refuses is dropped (the rest are kept). */
function asResponse(answer: UpstreamAnswer): Response {
  const body = answer.body as BodyInit | null;
  try {
    return new Response(body, { status: answer.status, headers: answer.headers });
  } catch {
    const headers = new Headers();
    for (const [name, value] of answer.headers) {
      try {
        headers.append(name, value);
      } catch {
        // a header line a Headers object refuses: dropped
      }
    }
    return new Response(body, { status: answer.status, headers });
  }
}

/** A Response (openid-client's DPoP answer) as an {@link UpstreamAnswer}. */
function answerOf(response: Response): UpstreamAnswer {
  const headers: [string, string][] = [];
  for (const [name, value] of response.headers) if (name !== 'set-cookie') headers.push([name, value]);
  for (const line of response.headers.getSetCookie()) headers.push(['set-cookie', line]);
  return { status: response.status, headers, body: response.body };
}

/** A copy of `response` whose JSON body also names `code`. */
function withCode(response: Response, code: string): Response {
  return json(response.status, { error: 'method_not_allowed', code }, { headers: { Allow: response.headers.get('allow') ?? '' } });
}

/** The proxy of one BFF. */
export type Proxy = ReturnType<typeof createProxy>;
