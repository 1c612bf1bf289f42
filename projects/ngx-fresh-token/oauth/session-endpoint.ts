import { isPlatformServer } from '@angular/common';
import { HttpBackend, HttpClient, HttpErrorResponse, HttpHeaders } from '@angular/common/http';
import { PLATFORM_ID, REQUEST_CONTEXT, inject } from '@angular/core';
import { FRESH_TOKEN_CLOCK, FRESH_TOKEN_SERVER_SESSION, readJwtTimes, withServerRendering, withTokenSource } from 'ngx-fresh-token';
import type { FreshTokenFeature, FreshTokenFeatureKind, ServerSession, TokenGrant, TokenSource } from 'ngx-fresh-token';
import { sha256Base64Url } from 'ngx-fresh-token/internal';
import { OAuthErrorCode } from './errors';
import {
  TokenRequestTimeoutOptions,
  ɵmalformed,
  ɵparseJsonObject,
  ɵrequireString,
  ɵsendBounded,
  ɵtokenEndpointError,
  ɵtokenRequestTimeoutMs,
} from './token-endpoint';
import { SESSION_CSRF_HEADER, SESSION_FORCE_REFRESH_HEADER, SESSION_REPLACES_TOKEN_HEADER, readSessionRenderContext } from 'ngx-fresh-token/oauth/server';
import type { IssuedAccessToken, SessionRenderContext } from 'ngx-fresh-token/oauth/server';

let warnedPromiseContext = false;

/** The session render context of this server render (`bff.renderContext()`), or `null` (the browser, a prerender, none passed). */
function renderContext(): SessionRenderContext | null {
  if (!isPlatformServer(inject(PLATFORM_ID, { optional: true }) ?? 'unknown')) return null;
  const value = inject(REQUEST_CONTEXT, { optional: true });
  if ((typeof ngDevMode === 'undefined' || ngDevMode) && !warnedPromiseContext && typeof (value as PromiseLike<unknown> | null)?.then === 'function') {
    warnedPromiseContext = true;
    console.warn(
      `${OAuthErrorCode.RenderContextIsPromise}: REQUEST_CONTEXT is a Promise: server.ts passes bff.renderContext(request) to angularApp.handle() without await, so every page renders signed out. ` +
        'To fix the problem, await it: angularApp.handle(req, await bff.renderContext(request)).',
    );
  }
  return readSessionRenderContext(value);
}

/** The render's session for the core: signed in or not, the allowed claims and the configured origin. */
function serverSession(): ServerSession | null {
  const context = renderContext();
  return context && { signedIn: context.user !== null, user: context.user, origin: context.origin };
}

/** base64url SHA-256 of `token` (what `X-Replaces-Token` carries); `null` where WebCrypto is missing (an insecure origin). */
function tokenHash(token: string): Promise<string | null> {
  return sha256Base64Url(token).catch(() => null);
}

/**
 * The grant of a session endpoint's (or render context's) answer. Expiry: a JWT is timed by
 * `expiresAt` when given, else by its own `exp` (the core corrects the device clock from its `iat`);
 * an opaque token by `expiresIn` on the local clock when given — a device clock that runs ahead would
 * turn a server's `expiresAt` into a token expired on arrival — else by `expiresAt`. `user` (the
 * session's allowed claims), when present.
 */
function grantOf(body: Record<string, unknown>, accessToken: string, nowMs: number): TokenGrant {
  const grant: TokenGrant = { accessToken };
  const expiresAt = body['expiresAt'];
  const expiresIn = body['expiresIn'];
  if (readJwtTimes(accessToken).expMs === undefined) {
    if (typeof expiresIn === 'number' && Number.isFinite(expiresIn)) grant.expiresAt = nowMs + expiresIn * 1000;
    else if (typeof expiresAt === 'number' && Number.isFinite(expiresAt)) grant.expiresAt = expiresAt;
  } else if (typeof expiresAt === 'number' && Number.isFinite(expiresAt)) {
    grant.expiresAt = expiresAt;
  }
  if (typeof body['idToken'] === 'string' && body['idToken']) grant.idToken = body['idToken'];
  const user = body['user'];
  if (user === null || (typeof user === 'object' && !Array.isArray(user))) grant.user = user as Record<string, unknown> | null;
  return grant;
}

/**
 * Options of {@link withSessionEndpoint}.
 *
 * @example
 * const options: SessionEndpointOptions = { url: '/api/session/token', signOutUrl: '/api/session/logout' };
 */
export interface SessionEndpointOptions extends TokenRequestTimeoutOptions {
  /**
   * The same-origin endpoint answering `{ accessToken, expiresAt | expiresIn, idToken?, user? }`, or 401
   * when signed out. Default `/session/token` (`createBff()`'s route).
   */
  url?: string;
  /**
   * A named API of the backend-for-frontend (`createBff({ apis })`): its own token, with its own
   * audience and scopes, asked for as `?api=<name>` (the browser names an API, never a resource or a
   * scope). In a server render, the render context's `getToken({ api })`. Pair it with
   * `withApiToken()`: `withApiToken('reports', ['https://reports.example.com'], withSessionEndpoint({ api: 'reports' }))`.
   */
  api?: string;
  /** HTTP method of the token request (default `GET`). */
  method?: 'GET' | 'POST';
  /** An endpoint to `POST` to on `auth.signOut()` (it should clear the session cookie); only an explicit sign-out calls it. */
  signOutUrl?: string;
}

/**
 * Uses a backend-for-frontend as the token source: the session lives in an http-only cookie the
 * browser cannot read, and a same-origin endpoint hands out short-lived access tokens. Requests
 * carry cookies (`withCredentials`) and bypass the interceptor; a forced refresh (the token is in the
 * buffer, or an API answered 401) adds `X-Force-Refresh: 1`; 401 means signed out; 5xx, 429
 * and network errors are retried by the core.
 *
 * On the server platform (Angular SSR) it reads the request's session from `REQUEST_CONTEXT` under
 * `FRESH_TOKEN_RENDER_CONTEXT_KEY` (`bff.renderContext(request)`, or `createSessionRenderContext()`
 * for sessions of your own) and gets tokens in process, with no HTTP round trip: API calls made during
 * the render carry the token, the page renders signed in (without the token: `state().token` stays
 * `null` there), and the browser starts from a token-free snapshot. Without a render context (a
 * prerender, `RenderMode.Client`, a `server.ts` that passes none) it answers signed out and the browser
 * loads the session itself.
 *
 * With `api`, the token of one of the BFF's named APIs (`/session/token?api=reports`), for
 * `withApiToken()`.
 *
 * @example
 * provideFreshToken(withSessionEndpoint({ url: '/api/session/token', signOutUrl: '/api/session/logout' }))
 * provideFreshToken(
 *   withSessionEndpoint({ signOutUrl: '/auth/logout' }), // url: '/session/token'
 *   withApiToken('reports', ['https://reports.example.com'], withSessionEndpoint({ api: 'reports' })),
 * )
 */
export function withSessionEndpoint(options: SessionEndpointOptions = {}): FreshTokenFeature<typeof FreshTokenFeatureKind.TokenSource> {
  const fn = 'withSessionEndpoint';
  options ??= {};
  if (options.url !== undefined) ɵrequireString(fn, 'url', options.url);
  if (options.signOutUrl !== undefined) ɵrequireString(fn, 'signOutUrl', options.signOutUrl);
  const api = options.api;
  if (api !== undefined) ɵrequireString(fn, 'api', api);
  const base = options.url ?? '/session/token';
  const url = api === undefined ? base : `${base}${base.includes('?') ? '&' : '?'}api=${encodeURIComponent(api)}`;
  const timeoutMs = ɵtokenRequestTimeoutMs(fn, options);
  return withTokenSource(() => {
    const http = new HttpClient(inject(HttpBackend));
    const clock = inject(FRESH_TOKEN_CLOCK);
    const isServer = isPlatformServer(inject(PLATFORM_ID, { optional: true }) ?? 'unknown');
    const what = 'session endpoint';
    // X-CSRF: a header no cross-site form or image can send (RFC 10017 §6.2); createBff() requires it.
    const headers = new HttpHeaders({ Accept: 'application/json', [SESSION_CSRF_HEADER]: '1' });
    let pending: Promise<TokenGrant | null> | null = null;

    const forcedHeaders = headers.set(SESSION_FORCE_REFRESH_HEADER, '1');

    const fetchToken = async (forceRefresh: boolean, currentToken: string | null | undefined): Promise<TokenGrant | null> => {
      // A forced call names the token it replaces, so a session that already holds a newer one (got by
      // another tab or render) hands that out instead of redeeming again. With no token held there is
      // nothing to replace: whatever the session holds is new to this browser.
      let requestHeaders = headers;
      if (forceRefresh && currentToken) {
        const hash = await tokenHash(currentToken);
        requestHeaders = hash ? forcedHeaders.set(SESSION_REPLACES_TOKEN_HEADER, hash) : forcedHeaders;
      }
      const request =
        options.method === 'POST'
          ? http.post(url, null, { headers: requestHeaders, withCredentials: true, observe: 'response', responseType: 'text' })
          : http.get(url, { headers: requestHeaders, withCredentials: true, observe: 'response', responseType: 'text' });
      let text: string;
      try {
        text = (await ɵsendBounded(request, clock, timeoutMs, what)).body;
      } catch (err) {
        if (err instanceof HttpErrorResponse && err.status === 401) return null;
        throw ɵtokenEndpointError(err, clock.now(), what);
      }
      const body = ɵparseJsonObject(text);
      const accessToken = body?.['accessToken'];
      if (!body || typeof accessToken !== 'string' || accessToken === '') {
        throw ɵmalformed(what, 'a JSON object with a non-empty "accessToken"');
      }
      return grantOf(body, accessToken, clock.now());
    };

    const context = isServer ? renderContext() : null;
    const source: TokenSource = {
      getToken: ({ forceRefresh, currentToken }) =>
        isServer
          ? context
            ? context.getToken({ forceRefresh, currentToken: currentToken ?? null, ...(api === undefined ? {} : { api }) }).then((issued) => renderGrant(issued, clock.now()))
            : Promise.resolve(null)
          : (pending ??= fetchToken(forceRefresh, currentToken).finally(() => {
              pending = null;
            })),
      // Only an explicit auth.signOut() ends the server session. A session that ended here on a
      // permanent failure (`request.error`: a garbled answer, a 4xx that is not the endpoint's 401, a
      // token expired on arrival, a configuration error) is no verdict of the server: it is kept.
      signOut: async (request) => {
        pending = null;
        if (!options.signOutUrl || isServer || request?.error) return;
        await ɵsendBounded(
          http.post(options.signOutUrl, null, { headers, withCredentials: true, observe: 'response', responseType: 'text' }),
          clock,
          timeoutMs,
          what,
        );
      },
    };
    return source;
  }, [withServerRendering(), { provide: FRESH_TOKEN_SERVER_SESSION, useFactory: serverSession }]);
}

/** A token from the render context as the core's grant (the same expiry rules as the endpoint's answer); `null` stays `null`. */
function renderGrant(issued: IssuedAccessToken | null, nowMs: number): TokenGrant | null {
  if (!issued) return null;
  if (typeof issued.accessToken !== 'string' || issued.accessToken === '') throw ɵmalformed('render context', 'a non-empty "accessToken"');
  return grantOf(issued as unknown as Record<string, unknown>, issued.accessToken, nowMs);
}
