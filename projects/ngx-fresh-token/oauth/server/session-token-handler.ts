/**
 * Request header by which {@link withSessionEndpoint} tells the server that the current access token
 * must not be handed out again (it is inside the refresh buffer, or an API rejected it with 401).
 * createSessionTokenHandler() reads it and passes `{ forceRefresh: true }` to `issueAccessToken`.
 *
 * @example
 * const forced = request.headers.get(SESSION_FORCE_REFRESH_HEADER) === '1';
 */
export const SESSION_FORCE_REFRESH_HEADER = 'X-Force-Refresh';

/**
 * Request header by which {@link withSessionEndpoint} names, on a forced refresh, the token it holds:
 * the base64url SHA-256 of that access token. A server whose session already holds a different,
 * fresh token hands that one out and redeems nothing (`createBff()` does).
 *
 * @example
 * const replaces = request.headers.get(SESSION_REPLACES_TOKEN_HEADER); // 43 base64url characters, or null
 */
export const SESSION_REPLACES_TOKEN_HEADER = 'X-Replaces-Token';

/**
 * Request header {@link withSessionEndpoint} sends with the value `1` on every call: a custom header
 * that no cross-site form, link or image can send (RFC 10017 §6.2). `createBff()` refuses token and
 * state-changing requests without it (403).
 *
 * @example
 * if (request.headers.get(SESSION_CSRF_HEADER) !== '1') return new Response(null, { status: 403 });
 */
export const SESSION_CSRF_HEADER = 'X-CSRF';

/**
 * What a session-token handler hands to the browser: a short-lived access token and its expiry.
 *
 * @example
 * const issued: IssuedAccessToken = { accessToken: jwt, expiresIn: 300 };
 */
export interface IssuedAccessToken {
  /** The access token. */
  accessToken: string;
  /** Expiry in epoch ms (on the server's clock). */
  expiresAt?: number;
  /** Lifetime in seconds, from now. */
  expiresIn?: number;
  /** An OpenID Connect ID token, if the app needs one. */
  idToken?: string;
}

/**
 * Options of {@link createSessionTokenHandler}.
 *
 * @example
 * const options: SessionTokenHandlerOptions<Session> = { getSession: (req) => sessions.fromCookie(req), issueAccessToken: (s) => s.accessToken() };
 */
export interface SessionTokenHandlerOptions<S> {
  /** Finds the session of the request (usually from its http-only cookie); `null`/`undefined` when there is none. */
  getSession(request: Request): S | null | undefined | Promise<S | null | undefined>;
  /**
   * Gives a short-lived access token for the session (refreshing it server-side as needed); `null` ends it.
   * `context.forceRefresh` is `true` when the browser asks for a token other than the one it has
   * (header `X-Force-Refresh: 1`, sent by `withSessionEndpoint()`): do not hand out the cached one then.
   */
  issueAccessToken(
    session: S,
    request: Request,
    context: { forceRefresh: boolean },
  ): IssuedAccessToken | null | Promise<IssuedAccessToken | null>;
  /** Answer requests a browser marks as cross-site (`Sec-Fetch-Site: cross-site`)? Default `false`. */
  allowCrossSite?: boolean;
  /**
   * Refuse (403) requests without `X-CSRF: 1` ({@link SESSION_CSRF_HEADER}), the header `withSessionEndpoint()`
   * always sends and no cross-site form, link or image can (RFC 10017 §6.2)? Default `true`, as in `createBff()`:
   * without it, a request a browser does not mark cross-site (an older browser, a sibling subdomain) would make
   * the server refresh tokens for the session its cookie names. `false` only for a client of your own that cannot
   * send it.
   */
  requireCsrfHeader?: boolean;
  /** Clock for `expiresAt`/`expiresIn` (default `Date.now`). */
  now?: () => number;
}

function json(status: number, body: unknown, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      'Content-Type': 'application/json',
      // A token must never be cached by the browser or a proxy.
      'Cache-Control': 'no-store',
      Pragma: 'no-cache',
      Vary: 'Cookie',
      ...extra,
    },
  });
}

/**
 * Makes the server side of the session-endpoint pattern (backend-for-frontend) as a
 * framework-agnostic Web `Request` → `Response` function: 200 with
 * `{ accessToken, expiresAt, expiresIn, idToken? }` for a signed-in session, 401 without one,
 * 403 for a cross-site request or one without `X-CSRF: 1`, 405 for methods other than GET/POST, 500 (no
 * details) when your callbacks throw or give an expiry that is not a finite number. Answers are `no-store`. Pairs with `withSessionEndpoint()` in the browser.
 * Imports nothing from Angular or the DOM, so it runs in Node, Deno, Bun and edge runtimes.
 *
 * @example
 * const handler = createSessionTokenHandler({
 *   getSession: (request) => sessions.get(readCookie(request, 'sid')),
 *   issueAccessToken: (session, _request, { forceRefresh }) => session.accessToken(forceRefresh), // → { accessToken, expiresIn }
 * });
 * // Hono, Deno, Bun, edge: return handler(request). Node/Express: build a Request from req, write the Response to res.
 */
export function createSessionTokenHandler<S>(options: SessionTokenHandlerOptions<S>): (request: Request) => Promise<Response> {
  if (typeof options?.getSession !== 'function' || typeof options.issueAccessToken !== 'function') {
    throw new TypeError('NFT303: createSessionTokenHandler() needs getSession(request) and issueAccessToken(session) functions.');
  }
  const now = options.now ?? (() => Date.now());
  return async (request: Request): Promise<Response> => {
    if (request.method !== 'GET' && request.method !== 'POST') {
      return json(405, { error: 'method_not_allowed' }, { Allow: 'GET, POST' });
    }
    if (!options.allowCrossSite && request.headers.get('sec-fetch-site') === 'cross-site') {
      return json(403, { error: 'cross_site_request' });
    }
    if (options.requireCsrfHeader !== false && request.headers.get(SESSION_CSRF_HEADER) !== '1') {
      return json(403, { error: 'csrf_header_required' });
    }
    try {
      const session = await options.getSession(request);
      if (session === null || session === undefined) return json(401, { error: 'unauthenticated' });
      const forceRefresh = /^(1|true)$/i.test(request.headers.get(SESSION_FORCE_REFRESH_HEADER) ?? '');
      const issued = await options.issueAccessToken(session, request, { forceRefresh });
      if (!issued) return json(401, { error: 'unauthenticated' });
      if (typeof issued.accessToken !== 'string' || issued.accessToken === '') return json(500, { error: 'server_error' });
      const nowMs = now();
      const expiresAt =
        typeof issued.expiresAt === 'number' ? issued.expiresAt : typeof issued.expiresIn === 'number' ? nowMs + issued.expiresIn * 1000 : undefined;
      // NaN or Infinity would reach the browser as null: a token that never expires, so never refreshed.
      if (expiresAt !== undefined && !Number.isFinite(expiresAt)) return json(500, { error: 'server_error' });
      const body: Record<string, unknown> = { accessToken: issued.accessToken };
      if (expiresAt !== undefined) {
        body['expiresAt'] = expiresAt;
        body['expiresIn'] = Math.max(0, Math.floor((expiresAt - nowMs) / 1000));
      }
      if (issued.idToken) body['idToken'] = issued.idToken;
      return json(200, body);
    } catch {
      // Never echo the error: it could hold a refresh token or a secret of the server's session.
      return json(500, { error: 'server_error' });
    }
  };
}
