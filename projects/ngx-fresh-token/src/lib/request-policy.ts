import { DOCUMENT } from '@angular/common';
import type { HttpEvent, HttpHandlerFn, HttpRequest } from '@angular/common/http';
import { InjectionToken, inject } from '@angular/core';
import type { Observable } from 'rxjs';
import { AuthService } from './auth.service';
import { ɵPROXIED_SESSION } from './bff-proxy';
import { ɵAUTH_HEADER, ɵAUTHORIZED_URLS, ɵOPTIONAL, ɵOWN } from './config';
import { ɵerror } from './errors';
import { ɵSERVER_HALF, ɵSERVER_RENDERING, ɵServerRendering } from './server-render';
import { createUrlAuthorizer, ɵsentUrl } from './url-matcher';
import { FRESH_TOKEN_BINDING, TokenBinding } from './token-binding';

/** What `read()` gives, or `undefined` where it throws: server DOMs (domino) throw on `baseURI`. */
function tryRead(read: () => string | undefined): string | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/**
 * @internal The base URL relative request URLs resolve against — read at each decision, since `<base href>`
 * may change after startup (the decision caches follow it) — and the app's own origin, in the browser: the
 * page's (`location.origin`, whatever `<base href>` says).
 */
export function ɵpageBase(): [base: () => string | undefined, origin: string | undefined] {
  const doc = inject(DOCUMENT, ɵOPTIONAL);
  // Server DOMs (domino) throw on `baseURI`: then the page's URL, for good (no throw per request).
  const readable = tryRead(() => doc?.baseURI) !== undefined;
  return [() => (readable && doc!.baseURI) || doc?.location?.href, tryRead(() => doc?.location?.origin)];
}

/** @internal Whether this `provideFreshToken()` is in proxy-only mode (its own `withBffSession()`): its service holds no token to send. */
export function ɵtokenless(): boolean {
  return inject(ɵPROXIED_SESSION, ɵOWN) !== null;
}

/**
 * HTTP request policy, kept beside the interceptor that applies it (as Angular keeps XSRF policy
 * in `xsrf.ts`): which URLs get the token (`withAuthorizedUrls`) and which headers carry it
 * (`withAuthHeader`, built once per token). `AuthService` knows nothing of HTTP. Also what else the
 * interceptor needs, so that a request costs one `inject()`.
 */
export interface ɵRequestPolicy {
  /** The service of this `provideFreshToken()` (or of one `withApiToken()`). */
  auth: AuthService;
  /** `withServerRendering()`, or `null`. */
  render: ɵServerRendering | null;
  /**
   * The policy of the token `req` gets — this one, when the URL is authorized (parsed, compared by
   * origin and whole path segments), a named token's (`withApiToken()`), a proxied path's
   * (`withBffProxy()`) — or `null`: no token.
   */
  pick(req: HttpRequest<unknown>): ɵRequestPolicy | null;
  /** A policy that sends the request itself rather than with a token (a proxied path: `X-CSRF`, no token). */
  send?(req: HttpRequest<unknown>, next: HttpHandlerFn): Observable<HttpEvent<unknown>>;
  /** `withTokenBinding()` of this token (DPoP), which then sends every request that carries it; `null` without. */
  bind?: TokenBinding | null;
  /** The auth headers for `token`, built once per token. */
  headersFor(token: string): Record<string, string>;
  /** Whether `headers` already holds one of the headers that carry `token`, other than `Authorization` (checked before). */
  hasOwnAuthHeader(token: string, headers: { has(name: string): boolean }): boolean;
}

/** The request policy of one `provideFreshToken()`, provided beside `AuthService`. */
export const ɵREQUEST_POLICY = /* @__PURE__ */ new InjectionToken<ɵRequestPolicy>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'REQUEST_POLICY' : '');

/** Builds the request policy in an injection context (a factory, not an injectable class: less code in every app). */
export function ɵcreateRequestPolicy(): ɵRequestPolicy {
  const format = inject(ɵAUTH_HEADER, ɵOPTIONAL) ?? ((token: string) => ({ Authorization: `Bearer ${token}` }));
  // The headers of the last token, and those of them the request itself may already hold.
  let cached: string | undefined;
  let headers: Record<string, string>;
  let own: string[];
  const build = (token: string) => {
    if (token === cached) return;
    const built = format(token);
    if (typeof built !== 'object' || !built || Object.values(built).some((v) => typeof v !== 'string')) {
      throw ɵerror('NFT105', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The withAuthHeader() function must return an object of string header values.' : '');
    }
    headers = built;
    // The interceptor has checked `Authorization` already (a request with its own is left alone).
    own = Object.keys(built).filter((name) => name.toLowerCase() !== 'authorization');
    cached = token;
  };
  const matchers = inject(ɵAUTHORIZED_URLS, ɵOPTIONAL);
  // In the browser relative URLs resolve against the page (the page's own origin is
  // `location.origin`, whatever `<base href>` says); a server render that knows the session
  // resolves them against the configured origin (server-render.ts; browser builds have no server half).
  const isAuthorized = inject(ɵSERVER_HALF)?.authorizer(matchers) || createUrlAuthorizer(matchers, ...ɵpageBase());
  // Proxy-only mode (withBffSession()): the session holds no token, so no URL gets one, and none waits
  // for a session read (the session is this service's own: ɵOWN, not a parent's).
  const tokenless = ɵtokenless();
  const policy: ɵRequestPolicy = {
    auth: inject(AuthService),
    render: inject(ɵSERVER_RENDERING, ɵOWN),
    bind: inject(FRESH_TOKEN_BINDING, ɵOWN),
    pick: (req) => (!tokenless && isAuthorized(ɵsentUrl(req)) ? policy : null),
    headersFor: (token) => (build(token), headers),
    hasOwnAuthHeader: (token, requestHeaders) => (build(token), own.length > 0 && own.some((name) => requestHeaders.has(name))),
  };
  return policy;
}
