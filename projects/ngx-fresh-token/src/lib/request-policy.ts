import { DOCUMENT } from '@angular/common';
import { InjectionToken, REQUEST, inject } from '@angular/core';
import { ɵAUTH_HEADER, ɵAUTHORIZED_URLS } from './config';
import { FreshTokenError } from './errors';
import { FRESH_TOKEN_SERVER_SESSION } from './server-session';
import { createUrlAuthorizer, type UrlMatcher } from './url-matcher';

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
 * (`withAuthHeader`, built once per token). `AuthService` knows nothing of HTTP.
 */
export interface ɵRequestPolicy {
  /** Whether the token may be sent to `url` (parsed, compared by origin and whole path segments). */
  isAuthorizedUrl(url: string): boolean;
  /** The auth headers for `token`, built once per token. */
  headersFor(token: string): Record<string, string>;
  /** Whether `headers` already holds one of the headers that carry `token` (the request brings its own). */
  hasOwnAuthHeader(token: string, headers: { has(name: string): boolean }): boolean;
}

/** The request policy of one `provideFreshToken()`, provided beside `AuthService`. */
export const ɵREQUEST_POLICY = new InjectionToken<ɵRequestPolicy>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'REQUEST_POLICY' : '');

/**
 * Which URLs get the token. In the browser, relative URLs resolve against the page. In a server render
 * of a browser's session they resolve against the app's configured origin, never the request's
 * `Host` (the client chooses it): a render whose request is for another origin sends no token at all.
 */
function authorizerFor(matchers: readonly UrlMatcher[] | null, doc: Document | null): (url: string) => boolean {
  const session = inject(FRESH_TOKEN_SERVER_SESSION);
  if (!session) return createUrlAuthorizer(matchers, documentBase(doc), documentOrigin(doc));
  const request = inject(REQUEST, { optional: true });
  let sameOrigin = true;
  if (request) {
    try {
      sameOrigin = new URL(request.url).origin === session.origin;
    } catch {
      sameOrigin = false;
    }
  }
  return sameOrigin ? createUrlAuthorizer(matchers, `${session.origin}/`, session.origin) : () => false;
}

/** Builds the request policy in an injection context (a factory, not an injectable class: less code in every app). */
export function ɵcreateRequestPolicy(): ɵRequestPolicy {
  const format = inject(ɵAUTH_HEADER);
  const doc = inject(DOCUMENT, { optional: true });
  let cache: { token: string; headers: Record<string, string>; names: string[] } | null = null;
  const entry = (token: string) => {
    if (cache?.token !== token) {
      const headers = format(token);
      if (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string')) {
        throw new FreshTokenError('NFT105', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The withAuthHeader() function must return an object of string header values.' : '');
      }
      cache = { token, headers, names: Object.keys(headers) };
    }
    return cache;
  };
  return {
    isAuthorizedUrl: authorizerFor(inject(ɵAUTHORIZED_URLS), doc),
    headersFor: (token) => entry(token).headers,
    hasOwnAuthHeader: (token, headers) => entry(token).names.some((name) => headers.has(name)),
  };
}
