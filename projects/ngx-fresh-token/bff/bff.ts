// createBff(): the server half of the backend-for-frontend pattern as one Web `Request` → `Response`
// function plus the in-process calls an SSR render or an API proxy needs.
import { SESSION_FORCE_REFRESH_HEADER, SESSION_REPLACES_TOKEN_HEADER } from 'ngx-fresh-token/oauth/server';
import { createSealer, sha256 } from './crypto';
import { csrfError } from './csrf';
import { bffError, BffErrorCode, FreshTokenError } from './errors';
import { errorResponse, json, methodNotAllowed, RequestAborted } from './http';
import { createLoginRoutes } from './login';
import { createLogoutRoutes } from './logout';
import { createGrantErrors, discover, installRotationCapture } from './oidc';
import { resolveBffOptions, type BffOptions, type BffRoutes } from './options';
import { createTokenIssuer, type IssueRequest } from './refresh';
import { createBffRenderContext } from './render-context';
import type { SessionRenderContext } from 'ngx-fresh-token/oauth/server';
import { createSessions, tokenKey, type LoadedSession } from './sessions';
import { createClientTokens } from './client-tokens';
import { createProxy, type BffRequestInfo } from './proxy';
import { createDpopKeys, tokenBinding } from './dpop';
import { nodeCall, nodeRequestUrl, toWebRequest, writeNodeAnswer, writeWebResponse, type BffNodeRequestInfo } from './node';
import { createWebSocketProxy, type BffUpgradeRequest, type BffUpgradeSocket } from './websocket';

/**
 * The signed-in user as the BFF shows it: only the ID-token claims allowed by `userClaims`, never a token.
 *
 * @example
 * const session = await bff.session(request); if (session) console.log(session.user['name']);
 */
export interface BffSession {
  /** The session's store key: a hash of the cookie's id (never the id), stable for the session's life; the same `sessionKey` as in {@link BffEvent}, for per-session data. */
  key: string;
  /** The user's subject (`sub`). */
  sub: string;
  /** The allowed ID-token claims. */
  user: Record<string, unknown>;
  /** The session's absolute end (epoch ms). */
  expiresAt: number;
}

/**
 * An access token handed out by the BFF.
 *
 * @example
 * const t = await bff.accessToken(request); if (t) headers.set('Authorization', `Bearer ${t.accessToken}`);
 */
export interface BffAccessToken {
  accessToken: string;
  /** Epoch ms, when known. */
  expiresAt?: number;
}

/**
 * Options of {@link Bff.accessToken}.
 *
 * @example
 * await bff.accessToken(request, { forceRefresh: true, resource: 'https://api.example.com' });
 */
export interface BffAccessTokenOptions {
  /** Do not hand out the cached token (it was rejected, or is about to expire). */
  forceRefresh?: boolean;
  /** With `forceRefresh`: the base64url SHA-256 of the token to replace; a session holding another fresh token hands that out. */
  replacesToken?: string | null;
  /** A named API of `createBff`'s `apis`: its resource and scope (unknown: rejects with `NFT413`). Not with `resource`/`scope`. */
  api?: string;
  /** RFC 8707 resource of the token (cached separately). */
  resource?: string;
  /** Scope of the token (cached separately). */
  scope?: string;
}

/**
 * A backend-for-frontend made by {@link createBff}.
 *
 * @example
 * const response = await bff.handle(request); if (response) return response; // else: your app
 */
export interface Bff {
  /**
   * Answers the BFF's routes and its proxied APIs; `null` for any other path, so it mounts in front of
   * anything. `info.clientAddress` (the client's address as your server sees it) becomes the proxied
   * call's `X-Forwarded-For`.
   */
  handle(request: Request, info?: BffRequestInfo): Promise<Response | null>;
  /**
   * Node only: answers the BFF's routes and its proxied APIs straight from node:http's request and response —
   * a proxied call without any Web Request or Response (about a third less CPU per call than `handle()`
   * through an adapter; see "Proxy mode" in the README). Resolves `false` for any other path, with nothing
   * read or written (the request is yours); rejects with `NFT401` when `info.origin` is not an origin.
   *
   * @example
   * const server = createServer((req, res) => bff.handleNode(req, res).then((done) => done || app(req, res)));
   */
  handleNode(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, info?: BffNodeRequestInfo): Promise<boolean>;
  /** The request's signed-in user (allowed claims only), or `null`. Slides the idle timeout. */
  session(request: Request): Promise<BffSession | null>;
  /**
   * The request's access token, refreshed server-side when needed (one redemption per session);
   * `null` when signed out or the session ended. Rejects with a coded `FreshTokenError`
   * (`NFT403`/`NFT404`/`NFT409`: 503, try again) when the IdP or the store is unavailable.
   */
  accessToken(request: Request, options?: BffAccessTokenOptions): Promise<BffAccessToken | null>;
  /**
   * The request's session for an Angular SSR render: pass it as `REQUEST_CONTEXT`
   * (`angularApp.handle(request, await bff.renderContext(request))`). `withSessionEndpoint()` then gets
   * tokens in process (same cache and single flight as `/session/token`), renders signed in with only
   * the `userClaims` (and `sub`) in the page, and sends tokens only when the request is for the
   * redirect URI's origin. Signed out: `user` is `null`. Slides the idle timeout.
   * Never rejects: when the store (or anything else) fails, it answers no context (`{}`), and the page
   * renders as a page without a server session does; the browser decides after hydration.
   *
   * @example
   * const response = await angularApp.handle(req, await bff.renderContext(createWebRequestFromNodeRequest(req)));
   */
  renderContext(request: Request): Promise<{ freshToken?: SessionRenderContext }>;
  /**
   * Node only: answers a WebSocket handshake for a proxied API with `proxy.websocket: true` (from your
   * server's `'upgrade'` event) and relays the connection to the API with its token. `false`: not such a
   * path (the socket is yours). Needs the `ws` package. See "Proxy mode" in the README.
   *
   * @example
   * server.on('upgrade', (req, socket, head) => bff.upgrade(req, socket, head).then((handled) => handled || socket.destroy()));
   */
  upgrade(request: BffUpgradeRequest, socket: BffUpgradeSocket, head: Uint8Array, info?: BffRequestInfo): Promise<boolean>;
  /** The paths the BFF answers. */
  readonly routes: Readonly<BffRoutes>;
  /** Closes what the BFF opened itself (the store's own connections); not a client you passed in. */
  close(): Promise<void>;
}

/**
 * Makes the backend-for-frontend: runs OpenID discovery once (through openid-client), checks every
 * option (a bad one throws `NFT401` naming it), and returns {@link Bff}. The browser pairs it with
 * `withSessionEndpoint({ url: '/session/token', signOutUrl: '/auth/logout' })`.
 *
 * @example
 * const bff = await createBff({
 *   issuer: 'https://id.example.com',
 *   clientId: 'web-bff',
 *   clientSecret: process.env['OIDC_CLIENT_SECRET']!,
 *   redirectUri: 'https://app.example.com/auth/callback',
 *   scope: 'openid profile offline_access api',
 *   secrets: [process.env['SESSION_SECRET']!],
 * });
 * // Hono, Deno, Bun, edge: (request) => bff.handle(request).then((r) => r ?? app(request))
 */
export async function createBff(options: BffOptions): Promise<Bff> {
  const resolved = resolveBffOptions(options);
  const config = await discover(resolved);
  const sealer = await createSealer(resolved.secrets);
  const sessions = createSessions(resolved, sealer);
  const grantErrors = createGrantErrors(resolved);
  const dpop = resolved.dpop ? await createDpopKeys(resolved.dpop, config, resolved.clientId) : null;
  const binding = tokenBinding(dpop, resolved.logger);
  const issuer = createTokenIssuer(resolved, sessions, config, grantErrors, installRotationCapture(config), binding);
  const { login, callback } = createLoginRoutes(resolved, sessions, sealer, config, grantErrors, binding);
  // A session that ends closes its proxied WebSockets (webSockets is made below; this runs later).
  const { logout, endSession, backchannelLogout } = createLogoutRoutes(resolved, sessions, config, issuer, (key) => webSockets.endSession(key));
  const userApiToken = async (request: Request, api: { resource?: string; scope?: string }, force?: { replaces: string }) => {
    const { session } = await sessions.load(request, true);
    if (!session) return null;
    const replacesToken = force ? await sha256(force.replaces) : null;
    const issued = await issuer.issue(session, { forceRefresh: force !== undefined, replacesToken, resource: api.resource, scope: api.scope });
    return issued?.token ?? null;
  };
  let foreignKeyWarned = false;
  /**
   * The user's token for a proxied call or WebSocket: one bound to a DPoP key this BFF does not hold (a key
   * removed from `previousKeys`, or another instance's key) is replaced once by one bound to this BFF's key
   * (without `dpop`, that redemption answers 503 `NFT420`: see refresh.ts).
   */
  const proxiedUserToken = async (request: Request, api: { resource?: string; scope?: string }, force?: { replaces: string }) => {
    const token = await userApiToken(request, api, force);
    if (force || !token?.jkt || dpop?.handleFor(token.jkt)) return token;
    if (!foreignKeyWarned && dpop) {
      foreignKeyWarned = true;
      resolved.logger.warn('ngx-fresh-token/bff: a token bound to a DPoP key this BFF does not hold was replaced. Expected once per session after a key was removed from dpop.previousKeys; if it keeps happening, instances run with different dpop keys (each replacement costs a redemption). (Logged once.)');
    }
    return userApiToken(request, api, { replaces: token.accessToken });
  };
  const clientTokens = createClientTokens(resolved, config, grantErrors, binding);
  /** The token slots of proxied APIs with user tokens: /session/token never hands them out. */
  const proxiedSlots = new Set(resolved.proxies.filter((p) => p.token !== 'none' && p.token !== 'client').map((p) => tokenKey(p.resource, p.scope)));
  const ownCookie = (name: string) => name === resolved.cookieName || name.startsWith(resolved.transactionCookiePrefix);
  const proxy = createProxy(resolved.proxies, {
    allowedOrigins: resolved.allowedOrigins,
    appOrigin: new URL(resolved.redirectUri.origin),
    clientTokens,
    dpop,
    ownCookie,
    userToken: proxiedUserToken,
  });
  const webSockets = createWebSocketProxy({
    allowedOrigins: resolved.allowedOrigins,
    appOrigin: new URL(resolved.redirectUri.origin),
    match: proxy.match,
    dpop,
    now: resolved.now,
    sessionKey: (request) => sessions.keyOfRequest(request),
    sessionAlive: async (key) => (await sessions.loadKey(key, false).catch(() => 'unknown')) !== null,
    // The same choice by token type as the HTTP proxy's (a user API without a session: refused).
    async token(request, api) {
      const token = await proxy.tokenOf(request, api);
      return token === null ? 'unauthenticated' : (token ?? null);
    },
  });
  const { routes, allowedOrigins } = resolved;
  let renderContextWarned = false;

  const userOf = (session: LoadedSession): BffSession => {
    const user: Record<string, unknown> = {};
    // A copy of a structured claim (an address): the session's data is shared and frozen.
    for (const claim of resolved.userClaims) {
      const value = session.data.claims[claim];
      if (value !== undefined) user[claim] = value !== null && typeof value === 'object' ? structuredClone(value) : value;
    }
    return { key: session.key, sub: session.data.sub, user, expiresAt: session.record.expiresAt };
  };

  /** A DPoP-bound token is useless without the BFF's key: it never leaves the BFF (`NFT420`). */
  const dpopBound = () =>
    bffError(BffErrorCode.DpopBound, 'the token is DPoP-bound to the BFF\'s key (createBff({ dpop })) and is not handed out: call the API through its proxy path.', { status: 403 });

  /** The resource and scope of a named API; `NFT413` (400) for a name `apis` does not configure. */
  function apiTarget(name: string): { resource?: string; scope?: string } {
    const api = resolved.apis.get(name);
    if (!api) throw bffError(BffErrorCode.UnknownApi, 'the API named is not one of createBff\'s apis.', { status: 400 });
    return api;
  }

  async function accessToken(request: Request, opts: BffAccessTokenOptions = {}): Promise<BffAccessToken | null> {
    const target = opts.api !== undefined ? apiTarget(opts.api) : { resource: opts.resource, scope: opts.scope };
    const { session } = await sessions.load(request, true);
    if (!session) return null;
    const issueRequest: IssueRequest = {
      forceRefresh: opts.forceRefresh === true,
      replacesToken: opts.replacesToken ?? null,
      resource: target.resource,
      scope: target.scope,
    };
    const issued = await issuer.issue(session, issueRequest);
    if (!issued) return null;
    if (issued.token.jkt) throw dpopBound();
    return issued.token.expiresAt === null ? { accessToken: issued.token.accessToken } : { accessToken: issued.token.accessToken, expiresAt: issued.token.expiresAt };
  }

  async function tokenRoute(request: Request): Promise<Response> {
    const forceRefresh = /^(1|true)$/i.test(request.headers.get(SESSION_FORCE_REFRESH_HEADER) ?? '');
    const replaces = request.headers.get(SESSION_REPLACES_TOKEN_HEADER);
    // `?api=<name>`: a named API's token. The browser names an API; never a resource or a scope.
    const apiName = new URL(request.url).searchParams.get('api');
    const target = apiName === null ? {} : apiTarget(apiName);
    // Proxy mode: a proxied API's tokens never leave the server (nor any token, with handOutTokens: false).
    const slot = tokenKey(target.resource, target.scope);
    // DPoP: every token of this BFF is bound to its key, so none is handed to the browser (checked before any grant).
    if (dpop) return errorResponse(dpopBound());
    if (!resolved.handOutTokens || (apiName !== null && resolved.apis.get(apiName)?.proxied) || proxiedSlots.has(slot)) {
      return errorResponse(bffError(BffErrorCode.ApiProxied, 'this token is not handed to the browser (proxy mode): call the API through its proxy path.', { status: 403 }));
    }
    const { session, hadCookie } = await sessions.load(request, true);
    const signedOut = () => json(401, { error: 'unauthenticated' }, { cookies: hadCookie ? [sessions.clearCookie()] : [] });
    if (!session) return signedOut();
    const issued = await issuer.issue(session, { forceRefresh, replacesToken: replaces && /^[A-Za-z0-9_-]{43}$/.test(replaces) ? replaces : null, ...target });
    if (!issued) return signedOut();
    // A token bound by another instance's DPoP key (a rolling deploy of `dpop`): never handed out either.
    if (issued.token.jkt) return errorResponse(dpopBound());
    // `user`: the allowed claims, so the browser's sessionUser follows the session (a sign-in in another tab, say).
    const body: Record<string, unknown> = { accessToken: issued.token.accessToken, user: userOf(session).user };
    if (issued.token.expiresAt !== null) {
      body['expiresAt'] = issued.token.expiresAt;
      body['expiresIn'] = Math.max(0, Math.floor((issued.token.expiresAt - resolved.now()) / 1000));
    }
    return json(200, body);
  }

  async function userRoute(request: Request): Promise<Response> {
    const { session, hadCookie } = await sessions.load(request, true);
    if (!session) return json(401, { user: null }, { cookies: hadCookie ? [sessions.clearCookie()] : [] });
    const { user, expiresAt } = userOf(session);
    // What the browser's withBffSession() shows as the session's end (proxy-only mode): the absolute end,
    // also relative (a device clock that is off), and the idle window this read has just restarted.
    return json(200, { user, expiresAt, expiresIn: Math.max(0, Math.floor((expiresAt - resolved.now()) / 1000)), idleMs: resolved.idleMs });
  }

  /** The methods each route answers: the `Allow` of its 405. */
  const allowed: ReadonlyMap<string, string> = new Map([
    [routes.login, 'GET'],
    [routes.callback, 'GET'],
    [routes.logout, 'POST'],
    [routes.token, 'GET, POST'],
    [routes.user, 'GET'],
    [routes.backchannelLogout, 'POST'],
    [routes.endSession, 'GET'],
  ]);
  const refuse = (path: string) => methodNotAllowed(allowed.get(path) ?? '');

  async function route(request: Request, url: URL, info?: BffRequestInfo): Promise<Response | null> {
    const method = request.method;
    const path = url.pathname;
    switch (path) {
      case routes.login:
        return method === 'GET' || method === 'HEAD' ? login(request) : refuse(path);
      case routes.callback:
        return method === 'GET' ? callback(request) : refuse(path);
      case routes.logout: {
        if (method !== 'POST') return refuse(path);
        const refused = csrfError(request, allowedOrigins, true);
        return refused ? errorResponse(refused) : logout(request);
      }
      case routes.token: {
        if (method !== 'GET' && method !== 'POST') return refuse(path);
        const refused = csrfError(request, allowedOrigins, true);
        return refused ? errorResponse(refused) : tokenRoute(request);
      }
      case routes.user: {
        if (method !== 'GET') return refuse(path);
        const refused = csrfError(request, allowedOrigins, false);
        return refused ? errorResponse(refused) : userRoute(request);
      }
      case routes.backchannelLogout:
        // Server to server, from the IdP: verified by the logout token's signature, not by CSRF rules.
        return method === 'POST' ? backchannelLogout(request) : refuse(path);
      case routes.endSession:
        // A top-level navigation carrying a one-time reference; it only sends the browser on to the IdP.
        return method === 'GET' ? endSession(request) : refuse(path);
      default: {
        const api = proxy.match(path);
        return api ? proxy.handle(request, api, info, url) : null;
      }
    }
  }

  const ownPaths = new Set(Object.values(routes));
  /** The last `info.origin` handleNode found to be an origin. */
  let checkedOrigin: string | undefined;
  /** The answer for an error no route turned into one (never the error itself: it could hold a token or a secret). */
  const failure = (err: unknown, method: string, path: string): Response => {
    if (err instanceof FreshTokenError) return errorResponse(err);
    // A browser that left mid-body: nobody reads the answer, and it is not the server's fault (no log line per connection).
    if (err instanceof RequestAborted) return json(400, { error: 'invalid_request' });
    resolved.logger.warn(`ngx-fresh-token/bff: ${method} ${path} failed (${err instanceof Error ? err.name : 'error'}).`);
    return json(500, { error: 'server_error' });
  };

  const bff: Bff = {
    routes,
    async handle(request, info) {
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        return null;
      }
      const path = url.pathname;
      try {
        return await route(request, url, info);
      } catch (err) {
        return failure(err, request.method, path);
      }
    },
    async handleNode(req, res, info) {
      // (The same origin on every call, as a server passes it: checked once, not parsed per request.)
      if (info?.origin !== undefined && info.origin !== checkedOrigin) {
        if (!URL.canParse(info.origin) || new URL(info.origin).origin !== info.origin) {
          throw bffError(BffErrorCode.InvalidOption, 'handleNode(req, res, { origin }) needs an origin such as "https://app.example.com" (scheme, host, port; no path).');
        }
        checkedOrigin = info.origin;
      }
      const url = nodeRequestUrl(req, info?.origin);
      if (!url) return false;
      const path = url.pathname;
      const api = ownPaths.has(path) ? null : proxy.match(path);
      if (!api && !ownPaths.has(path)) return false;
      const forwarded: BffRequestInfo = { clientAddress: info?.clientAddress ?? req.socket?.remoteAddress };
      try {
        // A proxied call: node:http in and out. Every other route: through a Web Request, as handle() answers it.
        if (api) await writeNodeAnswer(res, await proxy.handleCall(nodeCall(req, res), api, url, forwarded));
        // A method no Web Request can carry (CONNECT, TRACE, TRACK) is none of the routes': 405, as handle() would answer.
        else if (/^(?:CONNECT|TRACE|TRACK)$/i.test(req.method ?? '')) await writeWebResponse(res, refuse(path));
        else await writeWebResponse(res, (await bff.handle(await toWebRequest(req, res, url), forwarded)) ?? json(404, { error: 'not_found' }));
      } catch (err) {
        const answer = failure(err, req.method ?? 'GET', path);
        if (res.headersSent || res.destroyed) res.destroy();
        else await writeWebResponse(res, answer);
      }
      return true;
    },
    async session(request) {
      const { session } = await sessions.load(request, true);
      return session ? userOf(session) : null;
    },
    accessToken,
    upgrade: (request, socket, head, info) => webSockets.upgrade(request, socket, head, info),
    async renderContext(request) {
      try {
        return await createBffRenderContext({ session: bff.session, accessToken, origin: resolved.redirectUri.origin }, request);
      } catch (err) {
        // A store outage (or a secret not deployed here yet) must not turn every signed-in page into a 500.
        if (!(err instanceof FreshTokenError) && !renderContextWarned) {
          renderContextWarned = true;
          resolved.logger.warn(`ngx-fresh-token/bff: renderContext() failed (${err instanceof Error ? err.name : 'error'}); the page renders without a session context. (Logged once.)`);
        }
        return {};
      }
    },
    async close() {
      await resolved.store.close?.();
    },
  };
  return bff;
}
