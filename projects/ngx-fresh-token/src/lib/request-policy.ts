import { DOCUMENT } from '@angular/common';
import { InjectionToken, inject } from '@angular/core';
import { AuthService } from './auth.service';
import { ɵAUTH_HEADER, ɵAUTHORIZED_URLS } from './config';
import { ɵerror } from './errors';
import { ɵSERVER_HALF, ɵSERVER_RENDERING, ɵServerRendering } from './server-render';
import { createUrlAuthorizer } from './url-matcher';

/** The URL relative request URLs resolve against; server DOMs (domino) throw on `baseURI`. */
function documentBase(doc: Document | null): string | undefined {
  try {
    return doc?.baseURI || doc?.location?.href;
  } catch {
    return doc?.location?.href;
  }
}

/** The page's own origin (`location.origin`), which `<base href>` does not change. */
function documentOrigin(doc: Document | null): string | undefined {
  try {
    return doc?.location?.origin || undefined;
  } catch {
    return undefined;
  }
}

/**
 * HTTP request policy, kept beside the interceptor that applies it (as Angular keeps XSRF policy
 * in `xsrf.ts`): which URLs get the token (`withAuthorizedUrls`) and which headers carry it
 * (`withAuthHeader`, built once per token). `AuthService` knows nothing of HTTP. Also what else the
 * interceptor needs, so that a request costs one `inject()`.
 */
export interface ɵRequestPolicy {
  /** The service of this `provideFreshToken()`. */
  auth: AuthService;
  /** `withServerRendering()`, or `null`. */
  render: ɵServerRendering | null;
  /** Whether the token may be sent to `url` (parsed, compared by origin and whole path segments). */
  isAuthorizedUrl(url: string): boolean;
  /** The auth headers for `token`, built once per token. */
  headersFor(token: string): Record<string, string>;
  /** Whether `headers` already holds one of the headers that carry `token`, other than `Authorization` (checked before). */
  hasOwnAuthHeader(token: string, headers: { has(name: string): boolean }): boolean;
}

/** The request policy of one `provideFreshToken()`, provided beside `AuthService`. */
export const ɵREQUEST_POLICY = /* @__PURE__ */ new InjectionToken<ɵRequestPolicy>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'REQUEST_POLICY' : '');

/** Builds the request policy in an injection context (a factory, not an injectable class: less code in every app). */
export function ɵcreateRequestPolicy(): ɵRequestPolicy {
  const format = inject(ɵAUTH_HEADER);
  const doc = inject(DOCUMENT, { optional: true });
  let cache: { token: string; headers: Record<string, string>; names: string[] } | null = null;
  const entry = (token: string) => {
    if (cache?.token !== token) {
      const headers = format(token);
      if (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string')) {
        throw ɵerror('NFT105', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The withAuthHeader() function must return an object of string header values.' : '');
      }
      // The interceptor has checked `Authorization` already (a request with its own is left alone).
      cache = { token, headers, names: Object.keys(headers).filter((name) => name.toLowerCase() !== 'authorization') };
    }
    return cache;
  };
  const matchers = inject(ɵAUTHORIZED_URLS);
  return {
    auth: inject(AuthService),
    render: inject(ɵSERVER_RENDERING),
    // In the browser relative URLs resolve against the page; a server render that knows the session
    // resolves them against the configured origin (server-render.ts; browser builds have no server half).
    isAuthorizedUrl: inject(ɵSERVER_HALF)?.authorizer(matchers) || createUrlAuthorizer(matchers, documentBase(doc), documentOrigin(doc)),
    headersFor: (token) => entry(token).headers,
    hasOwnAuthHeader: (token, headers) => {
      const names = entry(token).names;
      return names.length > 0 && names.some((name) => headers.has(name));
    },
  };
}
