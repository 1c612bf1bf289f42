import type { IssuedAccessToken } from './session-token-handler';

/**
 * The key under which a server render finds the session in Angular's `REQUEST_CONTEXT` object:
 * `angularApp.handle(request, { [FRESH_TOKEN_RENDER_CONTEXT_KEY]: context })`. `withSessionEndpoint()`
 * reads it on the server platform.
 *
 * @example
 * const response = await angularApp.handle(request, { [FRESH_TOKEN_RENDER_CONTEXT_KEY]: context, other: 'app data' });
 */
export const FRESH_TOKEN_RENDER_CONTEXT_KEY = 'freshToken';

/**
 * What one server render needs of the browser's session, with no Angular in it: a token function
 * (the same server-side refresh as `/session/token`), the user's allowed claims and the app's
 * configured origin. One per request: renders of different users never share one.
 *
 * @example
 * const context: SessionRenderContext = {
 *   origin: 'https://app.example.com',
 *   user: { sub: 'alice', name: 'Alice' },
 *   getToken: ({ forceRefresh }) => mySession.accessToken({ forceRefresh }), // → { accessToken, expiresAt }
 * };
 */
export interface SessionRenderContext {
  /**
   * A token for this session: the cached one, or a new one when `forceRefresh` (an API rejected
   * `currentToken`, or it is expiring); `null` when the session has ended. Rejects with an error
   * carrying an HTTP `status` (503 …) when the token cannot be had now. `api` names one of the
   * server's APIs with tokens of their own (`createBff({ apis })`), as `/session/token?api=` does.
   */
  getToken(request: { forceRefresh: boolean; currentToken?: string | null; api?: string }): Promise<IssuedAccessToken | null>;
  /** The signed-in user's claims that may be shown in the page (never a token); `null`: no session. */
  user: Record<string, unknown> | null;
  /** When the session ends at the latest (epoch ms), if known. */
  expiresAt?: number;
  /**
   * The app's configured origin (`https://app.example.com`), never taken from the request: relative
   * URLs in the render resolve against it, and a render whose request is for another host sends no token.
   */
  origin: string;
}

/**
 * Options of {@link createSessionRenderContext}: a session the app keeps itself.
 *
 * @example
 * const options: SessionRenderContextOptions = { origin: 'https://app.example.com', user: null, getToken: async () => null };
 */
export interface SessionRenderContextOptions {
  /** See {@link SessionRenderContext.getToken}. Not called when `user` is `null`. */
  getToken(request: { forceRefresh: boolean; currentToken?: string | null; api?: string }): IssuedAccessToken | null | Promise<IssuedAccessToken | null>;
  /** The signed-in user's claims that may go into the page, or `null` when the request has no session. */
  user: Record<string, unknown> | null;
  /** When the session ends at the latest (epoch ms). */
  expiresAt?: number;
  /** The app's configured origin (an absolute URL; only its origin is kept), never the request's `Host`. */
  origin: string | URL;
}

function originOf(value: unknown): string {
  let url: URL | null = null;
  try {
    url = typeof value === 'string' || value instanceof URL ? new URL(value) : null;
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new TypeError('NFT303: createSessionRenderContext() needs origin: the app\'s own absolute http(s) URL, for example "https://app.example.com".');
  }
  return url.origin;
}

/**
 * Makes the `REQUEST_CONTEXT` object of one server render for an app that keeps its own sessions
 * (`createBff()` users call `bff.renderContext(request)` instead): pass it as the second argument of
 * `AngularNodeAppEngine.handle()` / `AngularAppEngine.handle()`. Throws a `TypeError` `NFT303` for a
 * missing token function or an origin that is not an absolute http(s) URL.
 *
 * @example
 * app.use('/**', async (req, res, next) => {
 *   const session = await mySessions.fromCookie(req.headers.cookie);
 *   const context = createSessionRenderContext({
 *     origin: 'https://app.example.com',
 *     user: session ? { sub: session.userId, name: session.name } : null,
 *     getToken: ({ forceRefresh }) => session!.accessToken({ forceRefresh }),
 *   });
 *   const response = await angularApp.handle(req, context);
 *   response ? writeResponseToNodeResponse(response, res) : next();
 * });
 */
export function createSessionRenderContext(options: SessionRenderContextOptions): { [FRESH_TOKEN_RENDER_CONTEXT_KEY]: SessionRenderContext } {
  if (typeof options?.getToken !== 'function') {
    throw new TypeError('NFT303: createSessionRenderContext() needs getToken({ forceRefresh, currentToken }), a function.');
  }
  const origin = originOf(options.origin);
  const user = options.user && typeof options.user === 'object' ? { ...options.user } : null;
  const getToken = options.getToken;
  const context: SessionRenderContext = {
    origin,
    user,
    getToken: async (request) =>
      user
        ? ((await getToken({
            forceRefresh: request.forceRefresh === true,
            currentToken: request.currentToken ?? null,
            ...(typeof request.api === 'string' ? { api: request.api } : {}),
          })) ?? null)
        : null,
  };
  if (user && typeof options.expiresAt === 'number' && Number.isFinite(options.expiresAt)) context.expiresAt = options.expiresAt;
  return { [FRESH_TOKEN_RENDER_CONTEXT_KEY]: context };
}

/**
 * The session render context inside a `REQUEST_CONTEXT` value, or `null` when there is none or it is
 * not one (a wrong shape is ignored, never trusted). What `withSessionEndpoint()` calls on the server.
 *
 * @example
 * const context = readSessionRenderContext(inject(REQUEST_CONTEXT));
 */
export function readSessionRenderContext(requestContext: unknown): SessionRenderContext | null {
  if (typeof requestContext !== 'object' || requestContext === null) return null;
  const context = (requestContext as Record<string, unknown>)[FRESH_TOKEN_RENDER_CONTEXT_KEY] as SessionRenderContext | undefined;
  if (typeof context !== 'object' || context === null || typeof context.getToken !== 'function' || typeof context.origin !== 'string') return null;
  try {
    if (new URL(context.origin).origin !== context.origin) return null;
  } catch {
    return null;
  }
  if (context.user !== null && typeof context.user !== 'object') return null;
  return context;
}
