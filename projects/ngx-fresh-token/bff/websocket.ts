/// <reference types="node" />
// WebSockets through the proxy (Node only): `bff.upgrade(req, socket, head)` from the server's 'upgrade'
// event. A browser's WebSocket cannot send `X-CSRF`, so the handshake is checked by what it does carry:
// the session cookie (for the token), an `Origin` that is exactly one of the allowed origins (browsers
// always send it on a WebSocket handshake), and `Sec-Fetch-Site` when present. The browser's handshake is
// checked in full (method, key, version, subprotocols) before the upstream is opened, and the upstream is
// closed whenever the browser's side does not come up. Messages are relayed both ways (text and binary,
// close codes and reasons) by `ws` (an optional peer, loaded on first use), with backpressure and a
// message size limit. When the token the connection was opened with expires, or the session ends (sign-out,
// back-channel logout, or found gone by the periodic check), both sides are closed with code 4401: the
// client reconnects, and the new handshake gets a fresh token (or is refused).
import { BffErrorCode, FreshTokenError } from './errors';
import { isCrossSite } from './csrf';
import { isSafeRest, type BffRequestInfo, type ResolvedProxy } from './proxy';
import type { DpopKeys } from './dpop';
import type { CachedToken } from './sessions';

/**
 * The close code sent to both sides when the connection's token expires or its session ends: reconnect for a fresh one.
 *
 * @example
 * socket.addEventListener('close', (e) => { if (e.code === WEBSOCKET_TOKEN_EXPIRED_CLOSE_CODE) connect(); }); // reconnect: a fresh token
 */
export const WEBSOCKET_TOKEN_EXPIRED_CLOSE_CODE = 4401;
/** Most proxied WebSockets of one session at once; past it a handshake is refused (429). */
export const MAX_WEBSOCKETS_PER_SESSION = 16;
/** Most proxied WebSockets of one BFF at once. */
export const MAX_WEBSOCKETS = 10_000;
/** How often a connection with a user token checks that its session still exists. */
const SESSION_CHECK_MS = 60_000;
/** Past this many bytes queued towards one side, the other side's reading pauses until it drains. */
const HIGH_WATER_BYTES = 1024 * 1024;

/**
 * The Node request of an 'upgrade' event, as `bff.upgrade()` needs it (an `http.IncomingMessage`).
 *
 * @example
 * server.on('upgrade', (req, socket, head) => bff.upgrade(req, socket, head).then((ok) => ok || socket.destroy(), () => socket.destroy()));
 */
export interface BffUpgradeRequest {
  url?: string;
  method?: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The socket of an 'upgrade' event, as `bff.upgrade()` uses it (a `net.Socket` / `stream.Duplex`).
 *
 * @example
 * server.on('upgrade', (req, socket: BffUpgradeSocket, head) => bff.upgrade(req, socket, head));
 */
export interface BffUpgradeSocket {
  end(chunk?: string): unknown;
  destroy(): unknown;
  /** `bff.upgrade()` listens for `'error'` (a client that resets the connection mid-handshake) and destroys the socket. */
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

/** What the WebSocket proxy needs of the BFF. */
export interface WebSocketDeps {
  allowedOrigins: ReadonlySet<string>;
  appOrigin: URL;
  match(pathname: string): ResolvedProxy | null;
  /** The token of an API for this handshake (null: none); rejects with a coded error, or gives `unauthenticated` for a `user` API without a session. */
  token(request: Request, api: ResolvedProxy): Promise<CachedToken | null | 'unauthenticated'>;
  /** The store key of the request's session, if it has one. */
  sessionKey(request: Request): Promise<string | null>;
  /** Whether the session under `key` still exists (a store failure counts as yes: no sign-out on a hiccup). */
  sessionAlive(key: string): Promise<boolean>;
  /** DPoP, when the BFF has a key: the handshake's proof for a bound token, and the API's nonces. */
  dpop: Pick<DpopKeys, 'proofHeaders' | 'rememberNonce'> | null;
  now(): number;
}

type WsModule = typeof import('ws');
let wsModule: Promise<WsModule> | null = null;
/**
 * `ws` is an optional peer, loaded only when a WebSocket is proxied. Named through a variable so that an app's
 * bundler (esbuild in `ng build` of a server.ts that imports this entry) leaves the import to run time instead of
 * failing the build when `ws` is not installed.
 */
const WS_MODULE = 'ws';

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests', 502: 'Bad Gateway', 503: 'Service Unavailable' };
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;

/** Refuses a handshake with an HTTP answer on the raw socket, then closes it. */
function refuse(socket: BffUpgradeSocket, status: number, code: string): void {
  const body = JSON.stringify({ error: (REASONS[status] ?? 'error').toLowerCase().replace(/ /g, '_'), code });
  try {
    socket.end(
      `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ${new TextEncoder().encode(body).byteLength}\r\n\r\n${body}`,
    );
  } catch {
    socket.destroy();
  }
}

/** The WebSocket half of the proxy of one BFF. */
export function createWebSocketProxy(deps: WebSocketDeps) {
  /** One ws server per message size limit (it checks the browser's side of each handshake). */
  const servers = new Map<number, import('ws').WebSocketServer>();
  let open = 0;
  /** The close functions of the open connections (and handshakes in flight) of each session. */
  const bySession = new Map<string, Set<(code: number, reason: string) => void>>();
  const join = (key: string, close: (code: number, reason: string) => void) => {
    let set = bySession.get(key);
    if (!set) bySession.set(key, (set = new Set()));
    set.add(close);
  };
  const leave = (key: string, close: (code: number, reason: string) => void) => {
    const set = bySession.get(key);
    set?.delete(close);
    if (set && set.size === 0) bySession.delete(key);
  };

  async function upgrade(req: BffUpgradeRequest, socket: BffUpgradeSocket, head: Uint8Array, info?: BffRequestInfo): Promise<boolean> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', deps.appOrigin);
    } catch {
      return false;
    }
    const api = deps.match(url.pathname);
    if (!api || !api.websocket) return false;
    // Node's server takes its own 'error' listener off the socket before 'upgrade': without one, a client that
    // resets the connection while the handshake is checked (or answered) would crash the process.
    socket.on?.('error', () => socket.destroy());
    try {
      await accept(req, socket, head, info, url, api);
    } catch {
      // Never an unhandled rejection: whatever went wrong, the handshake is refused.
      refuse(socket, 400, BffErrorCode.WebSocketRefused);
    }
    return true;
  }

  async function accept(req: BffUpgradeRequest, socket: BffUpgradeSocket, head: Uint8Array, info: BffRequestInfo | undefined, url: URL, api: ResolvedProxy): Promise<void> {
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    // The handshake itself (RFC 6455 §4.2.1), checked before anything is opened upstream.
    const subprotocols = [...new Set((header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim()).filter(Boolean))];
    if (
      (req.method ?? 'GET') !== 'GET' ||
      (header('upgrade') ?? '').toLowerCase() !== 'websocket' ||
      !WEBSOCKET_KEY.test(header('sec-websocket-key') ?? '') ||
      !['8', '13'].includes(header('sec-websocket-version') ?? '') ||
      subprotocols.length > 16 ||
      !subprotocols.every((p) => TOKEN.test(p))
    ) {
      return refuse(socket, 400, BffErrorCode.WebSocketRefused);
    }
    // The handshake's own CSRF rules: an exact Origin, and no cross-site fetch.
    const origin = header('origin');
    if (!origin || !deps.allowedOrigins.has(origin) || isCrossSite(header('sec-fetch-site')) || !deps.allowedOrigins.has(url.origin)) {
      return refuse(socket, 403, BffErrorCode.WebSocketRefused);
    }
    if (!isSafeRest(url.pathname.slice(api.path.length))) return refuse(socket, 400, BffErrorCode.ProxyPathRefused);
    if (open >= MAX_WEBSOCKETS) return refuse(socket, 503, BffErrorCode.WebSocketRefused);
    // Counted from here, before the first await: handshakes in flight count against the limits too (checked and
    // counted only once relaying, concurrent handshakes would all pass). Released on every way out but relaying.
    open++;
    let counted = true;
    const uncount = () => {
      if (counted) {
        counted = false;
        open--;
      }
    };
    let reserved: { key: string; slot: (code: number, reason: string) => void } | null = null;
    const unreserve = () => {
      if (!reserved) return;
      leave(reserved.key, reserved.slot);
      reserved = null;
    };
    let handedOver = false;
    try {
      return await handshake();
    } finally {
      if (!handedOver) {
        uncount();
        unreserve();
      }
    }

    async function handshake(): Promise<void> {

      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
      const request = new Request(url, { headers });
      let token: CachedToken | null | 'unauthenticated';
      try {
        token = await deps.token(request, api);
      } catch (err) {
        return refuse(socket, err instanceof FreshTokenError ? (err.status ?? 503) : 503, err instanceof FreshTokenError ? err.code : BffErrorCode.IdpUnavailable);
      }
      if (token === 'unauthenticated') return refuse(socket, 401, BffErrorCode.WebSocketRefused);
      const sessionKey = token && api.token !== 'client' ? await deps.sessionKey(request) : null;
      let ended = false;
      let upstream: import('ws').WebSocket | undefined;
      if (sessionKey) {
        if ((bySession.get(sessionKey)?.size ?? 0) >= MAX_WEBSOCKETS_PER_SESSION) return refuse(socket, 429, BffErrorCode.WebSocketRefused);
        // The session's slot, held while the upstream handshake runs; a sign-out meanwhile ends the handshake.
        const slot = () => {
          ended = true;
          upstream?.terminate();
        };
        join(sessionKey, slot);
        reserved = { key: sessionKey, slot };
      }

      wsModule ??= import(/* @vite-ignore */ WS_MODULE) as Promise<WsModule>;
      let ws: WsModule;
      try {
        ws = await wsModule;
      } catch {
        wsModule = null;
        return refuse(socket, 502, BffErrorCode.UpstreamUnavailable);
      }
      let server = servers.get(api.maxMessageBytes);
      if (!server) {
        server = new ws.WebSocketServer({ noServer: true, maxPayload: api.maxMessageBytes, handleProtocols: (_protocols, request) => chosen.get(request) ?? false });
        servers.set(api.maxMessageBytes, server);
      }

      // The upstream next: the browser's handshake is answered only once the API accepted its own, and the
      // upstream goes whenever the browser's side does not come up (it left, or its handshake fails in ws).
      const target = new URL(api.target.href);
      target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
      target.pathname = `${api.target.pathname.replace(/\/$/, '')}${url.pathname.slice(api.path.length)}` || '/';
      target.search = url.search;
      const baseHeaders: Record<string, string> = { 'x-forwarded-host': deps.appOrigin.host, 'x-forwarded-proto': deps.appOrigin.protocol.slice(0, -1) };
      if (info?.clientAddress) baseHeaders['x-forwarded-for'] = info.clientAddress;
      // A DPoP-bound token goes with a proof for the handshake's HTTP request (htm GET, htu its http(s) URI).
      const proofUrl = new URL(target.href);
      proofUrl.protocol = api.target.protocol;
      const dpopToken = token?.jkt ? { accessToken: token.accessToken, jkt: token.jkt } : null;
      let browserUp = false;
      let browserGone = false;
      const socketEvents = socket as unknown as { once?(event: string, listener: () => void): unknown };
      socketEvents.once?.('close', () => {
        browserGone = true;
        if (!browserUp) upstream?.terminate();
      });
      /** One handshake with the API: open, or refused (with the `DPoP-Nonce` of a 401 asking for one). */
      const connect = async (): Promise<{ socket: import('ws').WebSocket; opened: boolean; nonce?: string } | null> => {
        const headers = { ...baseHeaders };
        if (dpopToken) {
          const proof = await deps.dpop?.proofHeaders(dpopToken, proofUrl, 'GET');
          if (!proof) return null;
          Object.assign(headers, proof);
        } else if (token) headers['authorization'] = `Bearer ${token.accessToken}`;
        const attempt = new ws.WebSocket(target, subprotocols, { headers, handshakeTimeout: api.timeoutMs, maxPayload: api.maxMessageBytes });
        upstream = attempt;
        attempt.on('error', () => undefined);
        return new Promise((resolve) => {
          attempt.once('open', () => {
            // Nothing the API sends before the browser's side is up is lost: read again once relaying.
            attempt.pause();
            resolve({ socket: attempt, opened: true });
          });
          attempt.once('close', () => resolve({ socket: attempt, opened: false }));
          attempt.once('unexpected-response', (_req, res) => {
            res.resume();
            const nonce = res.headers['dpop-nonce'];
            const challenge = String(res.headers['www-authenticate'] ?? '');
            const wantsNonce = res.statusCode === 401 && typeof nonce === 'string' && /^dpop\b/i.test(challenge) && /use_dpop_nonce/.test(challenge);
            resolve({ socket: attempt, opened: false, nonce: wantsNonce ? nonce : undefined });
          });
        });
      };
      let attempt = await connect();
      // use_dpop_nonce: once more with the API's nonce (remembered for its origin, as for HTTP calls).
      if (attempt && !attempt.opened && attempt.nonce && dpopToken && !browserGone) {
        attempt.socket.terminate();
        deps.dpop?.rememberNonce(dpopToken.jkt, proofUrl, attempt.nonce);
        attempt = await connect();
      }
      if (!attempt) return refuse(socket, 503, BffErrorCode.IdpUnavailable);
      if (ended) {
        attempt.socket.terminate();
        return refuse(socket, 401, BffErrorCode.WebSocketRefused);
      }
      if (!attempt.opened) {
        attempt.socket.terminate();
        return refuse(socket, 502, BffErrorCode.UpstreamUnavailable);
      }
      const live = attempt.socket;
      const nodeRequest = req as import('node:http').IncomingMessage;
      chosen.set(nodeRequest, live.protocol || false);
      // From here the connection's own code releases what was counted: relay() when it ends, or the check below.
      handedOver = true;
      try {
        server.handleUpgrade(nodeRequest, socket as import('node:stream').Duplex, Buffer.from(head), (browser) => {
          browserUp = true;
          unreserve(); // relay() adds the connection's own close function in its place
          relay(ws, browser, live, token, sessionKey, uncount);
        });
      } finally {
        chosen.delete(nodeRequest);
      }
      // ws refused the browser's side (it answered it itself) or the socket is gone: the upstream goes too.
      if (!browserUp) {
        queueMicrotask(() => {
          if (!browserUp) {
            live.terminate();
            uncount();
            unreserve();
          }
        });
      }
    }
  }

  /** The subprotocol the upstream chose, per handshake in flight (handleProtocols answers the browser with it). */
  const chosen = new WeakMap<object, string | false>();

  /** Relays `browser` ⇄ `upstream` with backpressure, and closes both at token expiry or session end. */
  function relay(
    ws: WsModule,
    browser: import('ws').WebSocket,
    upstream: import('ws').WebSocket,
    token: CachedToken | null,
    sessionKey: string | null,
    uncount: () => void,
  ): void {
    const OPEN = ws.WebSocket.OPEN;
    const pipe = (from: import('ws').WebSocket, to: import('ws').WebSocket) => {
      from.on('message', (data, isBinary) => {
        if (to.readyState !== OPEN) return;
        to.send(data, { binary: isBinary }, () => {
          if (to.bufferedAmount < HIGH_WATER_BYTES / 2 && from.isPaused) from.resume();
        });
        // The receiving side is slow: stop reading from the sending side until it drains.
        if (to.bufferedAmount > HIGH_WATER_BYTES && !from.isPaused) from.pause();
      });
    };
    pipe(browser, upstream);
    pipe(upstream, browser);
    upstream.resume();
    const closeBoth = (code: number, reason: string) => {
      if (browser.readyState === OPEN) browser.close(code, reason);
      if (upstream.readyState === OPEN) upstream.close(1000, reason);
    };
    const closeOther = (other: import('ws').WebSocket) => (code: number, reason: Buffer) => {
      stop();
      if (other.readyState === OPEN || other.readyState === ws.WebSocket.CONNECTING) {
        // 1005/1006 cannot be sent on the wire.
        if (code === 1005 || code === 1006) other.close();
        else other.close(code, reason);
      }
    };
    browser.on('close', closeOther(upstream));
    upstream.on('close', closeOther(browser));
    browser.on('error', () => upstream.terminate());
    upstream.on('error', () => browser.terminate());

    // The token the connection was opened with expires, or the session ends: 4401, the browser reconnects.
    const left = token && token.expiresAt !== null ? token.expiresAt - deps.now() : null;
    const expiry = left === null ? undefined : setTimeout(() => closeBoth(WEBSOCKET_TOKEN_EXPIRED_CLOSE_CODE, 'token expired'), Math.min(Math.max(0, left), 2_147_483_647));
    (expiry as { unref?: () => void } | undefined)?.unref?.();
    const endNow = (code: number, reason: string) => closeBoth(code, reason);
    let check: ReturnType<typeof setInterval> | undefined;
    if (sessionKey) {
      join(sessionKey, endNow);
      // Sessions end on other instances too: look every minute.
      check = setInterval(() => {
        void deps.sessionAlive(sessionKey).then((alive) => alive || closeBoth(WEBSOCKET_TOKEN_EXPIRED_CLOSE_CODE, 'session ended'));
      }, SESSION_CHECK_MS);
      (check as { unref?: () => void }).unref?.();
    }
    let stopped = false;
    function stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(expiry);
      clearInterval(check);
      uncount();
      if (sessionKey) leave(sessionKey, endNow);
    }
  }

  return {
    upgrade,
    /** Closes the proxied WebSockets of a session that ended here (sign-out, back-channel logout) with 4401. */
    endSession(key: string): void {
      for (const end of [...(bySession.get(key) ?? [])]) end(WEBSOCKET_TOKEN_EXPIRED_CLOSE_CODE, 'session ended');
    },
  };
}
