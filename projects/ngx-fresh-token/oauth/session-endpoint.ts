import { isPlatformServer } from '@angular/common';
import { HttpBackend, HttpClient, HttpErrorResponse, HttpHeaders } from '@angular/common/http';
import { PLATFORM_ID, REQUEST_CONTEXT, inject } from '@angular/core';
import { FRESH_TOKEN_CLOCK, FRESH_TOKEN_SERVER_SESSION, readJwtTimes, withTokenSource } from 'ngx-fresh-token';
import type { FreshTokenFeature, FreshTokenFeatureKind, ServerSession, TokenGrant, TokenSource } from 'ngx-fresh-token';
import {
  DEFAULT_TOKEN_REQUEST_TIMEOUT_MS,
  ɵmalformed,
  ɵoptionalPositive,
  ɵparseJsonObject,
  ɵrequireString,
  ɵsendBounded,
  ɵtokenEndpointError,
} from './token-endpoint';
import { SESSION_CSRF_HEADER, SESSION_FORCE_REFRESH_HEADER, SESSION_REPLACES_TOKEN_HEADER, readSessionRenderContext } from 'ngx-fresh-token/oauth/server';
import type { IssuedAccessToken, SessionRenderContext } from 'ngx-fresh-token/oauth/server';

/** The session render context of this server render (`bff.renderContext()`), or `null` (the browser, a prerender, none passed). */
function renderContext(): SessionRenderContext | null {
  if (!isPlatformServer(inject(PLATFORM_ID, { optional: true }) ?? 'unknown')) return null;
  return readSessionRenderContext(inject(REQUEST_CONTEXT, { optional: true }));
}

/** The render's session for the core: signed in or not, the allowed claims and the configured origin. */
function serverSession(): ServerSession | null {
  const context = renderContext();
  return context && { signedIn: context.user !== null, user: context.user, origin: context.origin };
}

/** base64url SHA-256 of `token` (what `X-Replaces-Token` carries); `null` where WebCrypto is missing (an insecure origin). */
async function tokenHash(token: string): Promise<string | null> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const bytes = new Uint8Array(await subtle.digest('SHA-256', new TextEncoder().encode(token)));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Options of {@link withSessionEndpoint}.
 *
 * @example
 * const options: SessionEndpointOptions = { url: '/api/session/token', signOutUrl: '/api/session/logout' };
 */
export interface SessionEndpointOptions {
  /** The same-origin endpoint answering `{ accessToken, expiresAt | expiresIn, idToken? }`, or 401 when signed out. */
  url: string;
  /** HTTP method of the token request (default `GET`). */
  method?: 'GET' | 'POST';
  /** An endpoint to `POST` to on sign-out (it should clear the session cookie). */
  signOutUrl?: string;
  /** Bound of one request in ms (default 8 000); a slower answer is aborted with `NFT304`. */
  timeoutMs?: number;
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
 * @example
 * provideFreshToken(withSessionEndpoint({ url: '/api/session/token', signOutUrl: '/api/session/logout' }))
 */
export function withSessionEndpoint(options: SessionEndpointOptions): FreshTokenFeature<typeof FreshTokenFeatureKind.TokenSource> {
  const fn = 'withSessionEndpoint';
  ɵrequireString(fn, 'url', options?.url);
  if (options.signOutUrl !== undefined) ɵrequireString(fn, 'signOutUrl', options.signOutUrl);
  ɵoptionalPositive(fn, 'timeoutMs', options.timeoutMs);
  return withTokenSource(() => {
    const http = new HttpClient(inject(HttpBackend));
    const clock = inject(FRESH_TOKEN_CLOCK);
    const isServer = isPlatformServer(inject(PLATFORM_ID, { optional: true }) ?? 'unknown');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TOKEN_REQUEST_TIMEOUT_MS;
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
          ? http.post(options.url, null, { headers: requestHeaders, withCredentials: true, observe: 'response', responseType: 'text' })
          : http.get(options.url, { headers: requestHeaders, withCredentials: true, observe: 'response', responseType: 'text' });
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
      const receivedAt = clock.now();
      const grant: TokenGrant = { accessToken };
      const expiresAt = body['expiresAt'];
      const expiresIn = body['expiresIn'];
      if (typeof expiresAt === 'number' && Number.isFinite(expiresAt)) grant.expiresAt = expiresAt;
      // expiresIn is on the local clock; a JWT's own exp is preferred, as the core corrects its skew.
      else if (typeof expiresIn === 'number' && Number.isFinite(expiresIn) && readJwtTimes(accessToken).expMs === undefined) {
        grant.expiresAt = receivedAt + expiresIn * 1000;
      }
      if (typeof body['idToken'] === 'string' && body['idToken']) grant.idToken = body['idToken'];
      return grant;
    };

    const context = isServer ? renderContext() : null;
    const source: TokenSource = {
      getToken: ({ forceRefresh, currentToken }) =>
        isServer
          ? context
            ? context.getToken({ forceRefresh, currentToken: currentToken ?? null }).then((issued) => grantOf(issued, clock.now()))
            : Promise.resolve(null)
          : (pending ??= fetchToken(forceRefresh, currentToken).finally(() => {
              pending = null;
            })),
      signOut: async () => {
        pending = null;
        if (!options.signOutUrl || isServer) return;
        await ɵsendBounded(
          http.post(options.signOutUrl, null, { headers, withCredentials: true, observe: 'response', responseType: 'text' }),
          clock,
          timeoutMs,
          what,
        );
      },
    };
    return source;
  }, [{ provide: FRESH_TOKEN_SERVER_SESSION, useFactory: serverSession }]);
}

/** A token from the render context as the core's grant (`expiresIn` counted from now); `null` stays `null`. */
function grantOf(issued: IssuedAccessToken | null, nowMs: number): TokenGrant | null {
  if (!issued) return null;
  if (typeof issued.accessToken !== 'string' || issued.accessToken === '') throw ɵmalformed('render context', 'a non-empty "accessToken"');
  const grant: TokenGrant = { accessToken: issued.accessToken };
  if (typeof issued.expiresAt === 'number' && Number.isFinite(issued.expiresAt)) grant.expiresAt = issued.expiresAt;
  else if (typeof issued.expiresIn === 'number' && Number.isFinite(issued.expiresIn) && readJwtTimes(issued.accessToken).expMs === undefined) {
    grant.expiresAt = nowMs + issued.expiresIn * 1000;
  }
  if (typeof issued.idToken === 'string' && issued.idToken) grant.idToken = issued.idToken;
  return grant;
}
