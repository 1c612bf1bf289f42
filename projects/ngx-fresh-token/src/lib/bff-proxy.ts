// The browser half of the BFF's API proxy (`createBff({ apis: { x: { proxy } } })`, RFC 10017 §6.1):
// requests for the proxied paths go to the app's own origin with `X-CSRF: 1` and the session cookie,
// never with a token; the BFF adds the token on its side. Everything here comes into an app through
// withBffProxy() only: an app without it ships none of it.
import { HttpErrorResponse, HttpEventType, type HttpRequest } from '@angular/common/http';
import { InjectionToken, inject } from '@angular/core';
import { throwError, tap } from 'rxjs';
import { ɵOPTIONAL, ɵonServer } from './config';
import { ɵerror } from './errors';
import { FreshTokenFeature, FreshTokenFeatureKind, ɵfeature } from './feature';
import { ɵREQUEST_POLICY, ɵRequestPolicy, ɵpageBase } from './request-policy';
import { ɵPROXY_ROUTER, ɵcreateRoutedPolicy } from './routed-policy';
import { ɵSERVER_HALF } from './server-render';
import { createUrlAuthorizer, ɵcanonicalPath, ɵisUnder, ɵsentUrl, type UrlMatcher } from './url-matcher';

/** The header every proxied call carries: no cross-site form, link or image can send it, and `createBff()` requires it. */
export const BFF_CSRF_HEADER = 'X-CSRF';

/**
 * The header `createBff()`'s proxy puts on its OWN 401 (`X-BFF-Session: none`: no session for the call): only
 * that 401 ends the session in proxy-only mode; an API's own 401, which the proxy passes through, does not.
 */
const BFF_SESSION_HEADER = 'X-BFF-Session';

/**
 * @internal What a proxied call tells the session a proxy-only app tracks (`withBffSession()`): an
 * answer of the BFF (the session was used, and its idle time starts again), or a 401 (it ended).
 */
export interface ɵProxiedSession {
  /** A successful (2xx) answer came through the proxy. */
  used(): void;
  /** The proxy answered its own 401 (`X-BFF-Session: none`): the session ended. */
  ended(error: HttpErrorResponse): void;
}

/** @internal The session of `withBffSession()`, which proxied calls report to; absent without it. */
export const ɵPROXIED_SESSION = /* @__PURE__ */ new InjectionToken<ɵProxiedSession>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'PROXIED_SESSION' : '');

/** The paths of `withBffProxy()` (multi: one list per feature). */
const ɵPROXY_PATHS = /* @__PURE__ */ new InjectionToken<readonly string[]>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'PROXY_PATHS' : '');

/**
 * @internal `path` as `withBffProxy()` matches it (without a trailing `/`), or `null` when it is not a path the
 * BFF could proxy: a path on the app's origin starting with `/`, of the same characters `createBff()`
 * takes (unreserved characters and sub-delimiters, `:` and `@`), no empty or dot segment, not `/` alone.
 *
 * @example
 * ɵproxyPath('/api/orders/'); // '/api/orders'
 * ɵproxyPath('/api/../admin'); // null
 */
export function ɵproxyPath(path: unknown): string | null {
  if (typeof path !== 'string') return null;
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return /^(?:\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/.test(trimmed) && !trimmed.split('/').some((s) => s === '.' || s === '..') ? trimmed : null;
}

/**
 * Sends the requests for these paths of the app's origin (and everything below them, by whole path
 * segments) through the backend-for-frontend's API proxy (`createBff({ apis: { name: { proxy: { path } } } })`):
 * with `X-CSRF: 1` and the session cookie, and **never with a token** — the BFF attaches the API's token
 * on the server, so it never reaches the browser (RFC 10017 §6.1).
 *
 * A proxied path ranks above every token rule: whatever `withAuthorizedUrls()` or `withApiToken()`
 * say, a request whose parsed URL is on the app's origin and under a proxied path gets no token.
 * Matching is on the parsed URL (dot segments resolved, origin compared), never on substrings: `/api/orders`
 * covers `/api/orders` and `/api/orders/1`, not `/api/ordersx` or `https://other.example/api/orders`.
 * Requests with `SKIP_FRESH_TOKEN` or an `Authorization` header of their own are left alone, as everywhere.
 *
 * A 401 from the proxy is not retried (the BFF has already tried one new token). With
 * {@link withBffSession} (proxy-only mode) the BFF's own 401 — marked `X-BFF-Session: none`: no session —
 * ends the session: state `signed-out`, a `session-expired` event, every tab signed out with
 * `withCrossTabSync()`; an API's own 401, which the BFF passes through unmarked, goes to the caller and
 * changes nothing. During a server render a
 * proxied request fails with `NFT114` (it would reach the app's origin without the browser's cookie).
 * Throws `NFT115` for a path `createBff()` would not take, or none at all.
 *
 * @example
 * // Proxy only: no token in the browser.
 * provideFreshToken(withBffSession(), withBffProxy('/api/orders', '/api/catalog'), withCrossTabSync())
 * // Beside a token of the browser's own (the default token for the rest of the app's origin).
 * provideFreshToken(withSessionEndpoint(), withBffProxy('/api/orders'))
 */
export function withBffProxy(...paths: string[]): FreshTokenFeature<typeof FreshTokenFeatureKind.BffProxy> {
  const checked = paths.map(ɵproxyPath);
  if (checked.length === 0 || checked.includes(null)) {
    throw ɵerror(
      'NFT115',
      (typeof ngDevMode === 'undefined' || ngDevMode)
        ? `withBffProxy() takes the proxied paths of createBff()'s apis, like withBffProxy('/api/orders', '/api/catalog'): paths on the app's origin starting with "/", of unreserved characters and sub-delimiters, without dot segments, query or fragment, and not "/" alone.`
        : '',
    );
  }
  return ɵfeature(10 /* BffProxy */, [
    { provide: ɵPROXY_PATHS, useValue: checked },
    { provide: ɵPROXY_ROUTER, useFactory: proxyRouter },
    { provide: ɵREQUEST_POLICY, useFactory: ɵcreateRoutedPolicy },
  ]);
}

/**
 * The match of one proxied path (checked by {@link ɵproxyPath}, on the app's origin), failing closed — a match sends
 * `X-CSRF` and withholds the token, and the BFF refuses odd spellings with 400 itself: the path as written, its
 * canonical form ({@link ɵcanonicalPath}), that form without trailing dots in its segments (`orders.`, which some servers
 * strip); and a path that hides a dot segment (`/x/..%2Forders`) could be anything, so it counts as proxied too.
 */
function proxyMatcher(path: UrlMatcher, base: string): (url: URL) => boolean {
  const { origin } = new URL(base);
  const prefix = ɵcanonicalPath(path as string) ?? (path as string);
  const under = `${prefix}/`;
  return (url) => {
    if (url.origin !== origin) return false;
    const canonical = ɵcanonicalPath(url.pathname);
    return canonical === null || ɵisUnder(url.pathname, prefix, under) || ɵisUnder(canonical, prefix, under) || ɵisUnder(canonical.replace(/\.+(?=\/|$)/g, ''), prefix, under);
  };
}

/** The proxied paths in front of the token choice: a proxied path gets the proxy's policy, any other URL `pick(req)`. */
function proxyRouter(): (pick: (req: HttpRequest<unknown>) => ɵRequestPolicy | null) => (req: HttpRequest<unknown>) => ɵRequestPolicy | null {
  const serverOrigin = inject(ɵSERVER_HALF)?.origin();
  const [base, origin] = serverOrigin ? [`${serverOrigin}/`, serverOrigin] : ɵpageBase();
  const isProxied = createUrlAuthorizer(inject(ɵPROXY_PATHS), base, origin, proxyMatcher);
  const onServer = ɵonServer();
  const session = inject(ɵPROXIED_SESSION, ɵOPTIONAL);
  return (pick) => {
    let proxy: ɵRequestPolicy | undefined;
    return (req) => {
      if (!isProxied(ɵsentUrl(req))) return pick(req);
      // Only `send` is read of a policy that has it (the interceptor's first question).
      return (proxy ??= {
        send: (request, next) => {
          if (onServer) {
            return throwError(() =>
              ɵerror('NFT114', (typeof ngDevMode === 'undefined' || ngDevMode) ? `${request.method} ${request.url} is a proxied path (withBffProxy()); it is not requested during a server render, where the browser's session cookie is not at hand. Call it from the browser.` : ''),
            );
          }
          // Never a token: the BFF attaches it. Nothing of a proxied answer enters the SSR transfer cache.
          const sent = next(request.clone({ setHeaders: { [BFF_CSRF_HEADER]: '1' }, transferCache: false }));
          return session
            ? sent.pipe(
                tap({
                  next: (event) => event.type === HttpEventType.Response && event.ok && session.used(),
                  // Only the BFF's own "no session" 401: an API's own 401 (passed through) is the caller's alone.
                  error: (err: unknown) => err instanceof HttpErrorResponse && err.status === 401 && err.headers?.get(BFF_SESSION_HEADER) === 'none' && session.ended(err),
                }),
              )
            : sent;
        },
      } as ɵRequestPolicy);
    };
  };
}
