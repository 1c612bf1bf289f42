/// <reference types="node" />
// WebSockets through the proxy (Node only): `bff.upgrade(req, socket, head)` from the server's 'upgrade'
// event. A browser's WebSocket cannot send `X-CSRF`, so the handshake is checked by what it does carry:
// the session cookie (for the token), an `Origin` that is exactly one of the allowed origins (browsers
// always send it on a WebSocket handshake), and `Sec-Fetch-Site` when present. The upstream handshake
// carries the token; messages are relayed both ways (text and binary, close codes and reasons) by `ws`
// (an optional peer, loaded on first use). When the token the connection was opened with expires, both
// sides are closed with code 4401 ("token expired"): the client reconnects, and the new handshake gets a
// fresh token.
import { bffError, BffErrorCode, FreshTokenError } from './errors';
import type { BffRequestInfo, ResolvedProxy } from './proxy';
import type { CachedToken } from './sessions';

/** The close code sent to both sides when the connection's token expires: reconnect for a fresh one. */
export const WEBSOCKET_TOKEN_EXPIRED_CLOSE_CODE = 4401;

/**
 * The Node request of an 'upgrade' event, as `bff.upgrade()` needs it (an `http.IncomingMessage`).
 *
 * @example
 * server.on('upgrade', (req, socket, head) => bff.upgrade(req, socket, head).then((ok) => ok || socket.destroy()));
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
}

/** What the WebSocket proxy needs of the BFF. */
export interface WebSocketDeps {
  allowedOrigins: ReadonlySet<string>;
  appOrigin: URL;
  match(pathname: string): ResolvedProxy | null;
  /** The token of an API for this handshake (null: none); rejects with a coded error, or with `unauthenticated` for a `user` API without a session. */
  token(request: Request, api: ResolvedProxy): Promise<CachedToken | null | 'unauthenticated'>;
  now(): number;
}

type WsModule = typeof import('ws');
let wsModule: Promise<WsModule> | null = null;

/** Refuses a handshake with an HTTP answer on the raw socket, then closes it. */
function refuse(socket: BffUpgradeSocket, status: number, code: string): void {
  const body = JSON.stringify({ error: status === 401 ? 'unauthenticated' : status === 502 ? 'bad_gateway' : 'forbidden', code });
  const reason = status === 401 ? 'Unauthorized' : status === 502 ? 'Bad Gateway' : status === 503 ? 'Service Unavailable' : 'Forbidden';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nContent-Length: ${new TextEncoder().encode(body).byteLength}\r\n\r\n${body}`,
  );
}

/** The WebSocket half of the proxy of one BFF. */
export function createWebSocketProxy(deps: WebSocketDeps) {
  let server: import('ws').WebSocketServer | null = null;

  async function upgrade(req: BffUpgradeRequest, socket: BffUpgradeSocket, head: Uint8Array, info?: BffRequestInfo): Promise<boolean> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', deps.appOrigin);
    } catch {
      return false;
    }
    const api = deps.match(url.pathname);
    if (!api || !api.websocket) return false;
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    // The handshake's own CSRF rules: an exact Origin, and no cross-site fetch.
    const origin = header('origin');
    if (!origin || !deps.allowedOrigins.has(origin) || header('sec-fetch-site') === 'cross-site') {
      refuse(socket, 403, BffErrorCode.WebSocketRefused);
      return true;
    }
    if (/%2e|%2f|%5c|%00|\\|\/\//i.test(url.pathname.slice(api.path.length))) {
      refuse(socket, 400, BffErrorCode.ProxyPathRefused);
      return true;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
    const request = new Request(url, { headers });
    let token: CachedToken | null | 'unauthenticated';
    try {
      token = await deps.token(request, api);
    } catch (err) {
      refuse(socket, err instanceof FreshTokenError ? (err.status ?? 503) : 503, err instanceof FreshTokenError ? err.code : BffErrorCode.IdpUnavailable);
      return true;
    }
    if (token === 'unauthenticated') {
      refuse(socket, 401, BffErrorCode.WebSocketRefused);
      return true;
    }

    wsModule ??= import('ws').catch(() => {
      throw bffError(BffErrorCode.InvalidOption, 'proxied WebSockets need the "ws" package: npm install ws.');
    });
    let ws: WsModule;
    try {
      ws = await wsModule;
    } catch {
      refuse(socket, 502, BffErrorCode.UpstreamUnavailable);
      return true;
    }
    server ??= new ws.WebSocketServer({ noServer: true });

    // The upstream first: the browser's handshake is answered only once the API accepted its own.
    const target = new URL(api.target.href);
    target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
    target.pathname = `${api.target.pathname.replace(/\/$/, '')}${url.pathname.slice(api.path.length)}` || '/';
    target.search = url.search;
    const protocols = (header('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    const upstreamHeaders: Record<string, string> = { 'x-forwarded-host': deps.appOrigin.host, 'x-forwarded-proto': deps.appOrigin.protocol.slice(0, -1) };
    if (token) upstreamHeaders['authorization'] = `Bearer ${token.accessToken}`;
    if (info?.clientAddress) upstreamHeaders['x-forwarded-for'] = info.clientAddress;
    const upstream = new ws.WebSocket(target, protocols, { headers: upstreamHeaders, handshakeTimeout: api.timeoutMs });
    const opened = await new Promise<boolean>((resolve) => {
      upstream.once('open', () => resolve(true));
      upstream.once('error', () => resolve(false));
      upstream.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(false);
      });
    });
    if (!opened) {
      upstream.terminate();
      refuse(socket, 502, BffErrorCode.UpstreamUnavailable);
      return true;
    }
    server.handleUpgrade(req as import('node:http').IncomingMessage, socket as import('node:stream').Duplex, Buffer.from(head), (browser) => {
      // Relay both ways; a close on one side closes the other with its code and reason.
      browser.on('message', (data, isBinary) => upstream.readyState === ws.WebSocket.OPEN && upstream.send(data, { binary: isBinary }));
      upstream.on('message', (data, isBinary) => browser.readyState === ws.WebSocket.OPEN && browser.send(data, { binary: isBinary }));
      const closeOther = (other: import('ws').WebSocket) => (code: number, reason: Buffer) => {
        clearTimeout(expiry);
        if (other.readyState === ws.WebSocket.OPEN || other.readyState === ws.WebSocket.CONNECTING) {
          // 1005/1006 cannot be sent on the wire.
          if (code === 1005 || code === 1006) other.close();
          else other.close(code, reason);
        }
      };
      browser.on('close', closeOther(upstream));
      upstream.on('close', closeOther(browser));
      browser.on('error', () => upstream.terminate());
      upstream.on('error', () => browser.terminate());
      // The token the connection was opened with expires: close both with 4401, the browser reconnects.
      const left = token && token.expiresAt !== null ? token.expiresAt - deps.now() : null;
      const expiry =
        left === null
          ? undefined
          : setTimeout(() => {
              browser.close(WEBSOCKET_TOKEN_EXPIRED_CLOSE_CODE, 'token expired');
              upstream.close(1000, 'token expired');
            }, Math.min(Math.max(0, left), 2_147_483_647));
      (expiry as { unref?: () => void } | undefined)?.unref?.();
    });
    return true;
  }

  return { upgrade };
}
