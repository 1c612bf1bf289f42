import { DOCUMENT } from '@angular/common';
import { Injectable, inject } from '@angular/core';
import { ɵAUTH_HEADER, ɵAUTHORIZED_URLS } from './config';
import { FreshTokenError } from './errors';
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
 * (`withAuthHeader`, built once per token). `AuthService` knows nothing of HTTP.
 */
@Injectable()
export class ɵFreshTokenRequestPolicy {
  private readonly format = inject(ɵAUTH_HEADER);
  private cache: { token: string; headers: Record<string, string>; names: string[] } | null = null;
  /** Whether the token may be sent to `url` (parsed, compared by origin and whole path segments). */
  readonly isAuthorizedUrl: (url: string) => boolean;

  constructor() {
    const doc = inject(DOCUMENT, { optional: true });
    this.isAuthorizedUrl = createUrlAuthorizer(inject(ɵAUTHORIZED_URLS), documentBase(doc), documentOrigin(doc));
  }

  /** The auth headers for `token`, built once per token. */
  headersFor(token: string): Record<string, string> {
    return this.entry(token).headers;
  }

  /** Whether `headers` already holds one of the headers that carry `token` (the request brings its own). */
  hasOwnAuthHeader(token: string, headers: { has(name: string): boolean }): boolean {
    for (const name of this.entry(token).names) if (headers.has(name)) return true;
    return false;
  }

  private entry(token: string): { headers: Record<string, string>; names: string[] } {
    if (this.cache?.token !== token) {
      const headers = this.format(token);
      if (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string')) {
        throw new FreshTokenError('NFT105', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The withAuthHeader() function must return an object of string header values.' : '');
      }
      this.cache = { token, headers, names: Object.keys(headers) };
    }
    return this.cache;
  }
}
