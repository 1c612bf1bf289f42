import { ɵerror } from './errors';

/**
 * One entry of `withAuthorizedUrls()`: a URL prefix (`'https://api.example.com/v1'`, or a
 * path such as `'/api'` on the app's own origin), a RegExp tested against the full resolved
 * URL (anchor it: `/^https:\/\/api\.example\.com\//`), or a predicate on the parsed URL.
 */
export type UrlMatcher = string | RegExp | ((url: URL) => boolean);

/** URLs are resolved against this when there is no document (plain Node, some servers). */
const FALLBACK_BASE = 'https://ngx-fresh-token.invalid/';
const CACHE_LIMIT = 2_048;

function pathMatches(prefix: string, path: string): boolean {
  if (prefix === '/' || path === prefix) return true;
  // Segment-aware: '/api' matches '/api/x' but not '/apix'.
  return path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}

/**
 * Compiles one matcher into a predicate on parsed URLs. Strings are parsed once, here; a
 * string that is not an http(s) URL or an absolute path throws `NFT104`.
 *
 * @example
 * compileUrlMatcher('https://api.example.com/v1', location.href)(new URL('https://api.example.com/v1/me')); // true
 */
export function compileUrlMatcher(matcher: UrlMatcher, baseHref: string): (url: URL) => boolean {
  if (typeof matcher === 'function') return matcher;
  if (matcher instanceof RegExp) {
    return (url) => {
      matcher.lastIndex = 0;
      return matcher.test(url.href);
    };
  }
  let prefix: URL | null = null;
  if (typeof matcher === 'string' && (/^https?:\/\//i.test(matcher) || /^\/(?![/\\])/.test(matcher))) {
    try {
      prefix = new URL(matcher, baseHref);
    } catch {
      prefix = null;
    }
  }
  if (!prefix || prefix.username || prefix.password || prefix.search || prefix.hash) {
    throw ɵerror(
      'NFT104',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withAuthorizedUrls() takes http(s) URL prefixes without credentials, query or hash (e.g. "https://api.example.com/v1"), paths on the app origin (e.g. "/api"), RegExps or (url: URL) => boolean functions.' : '',
    );
  }
  const { origin, pathname } = prefix;
  return (url) => url.origin === origin && pathMatches(pathname, url.pathname);
}

/**
 * Builds the check the interceptor runs on every request URL: it resolves the URL against
 * `baseHref` (so `//evil.test`, `https://api.example.com@evil.test` and `/\evil.test` are
 * seen for what they are), then compares origins and path prefixes, never substrings.
 * With `matchers === null` only `appOrigin` (default: the base URL's origin) is authorized;
 * path matchers such as `'/api'` also mean paths on `appOrigin`. Decisions are cached per URL
 * string (2 048 entries: a repeated URL costs one lookup) and, with string matchers only, per URL
 * without its query and fragment (2 048 more: another query on a known path is decided without parsing).
 *
 * @example
 * const isAuthorized = createUrlAuthorizer(null, document.baseURI);
 * isAuthorized('/api/me'); // true
 * isAuthorized('https://evil.test/'); // false
 */
export function createUrlAuthorizer(
  matchers: readonly UrlMatcher[] | null,
  baseHref: string | null | undefined,
  appOrigin?: string | null,
): (url: string) => boolean {
  const base = baseHref || FALLBACK_BASE;
  // The app's own origin is where the page came from, not where `<base href>` points (a CDN).
  const origin = appOrigin && appOrigin !== 'null' ? appOrigin : new URL(base).origin;
  const compiled = matchers
    ? matchers.map((m) => compileUrlMatcher(m, `${origin}/`))
    : [(url: URL) => url.origin === origin];
  // Decisions by the URL as sent (a hit costs one lookup), and by its path (see below) for the
  // first sight of a URL that differs only in its query or fragment: no parse then either.
  const byUrl = new Map<string, boolean>();
  const byPath = new Map<string, boolean>();
  // String matchers look at the origin and the path only, so the query and fragment (where URLs
  // differ most: pages, ids, cache busters) need not be part of the parsed decision.
  const pathOnly = !matchers || matchers.every((m) => typeof m === 'string');
  // The last decision, checked first: an app sends the same URL many times in a row.
  let lastUrl = '';
  let last = false;
  return (raw: string) => {
    if (raw === lastUrl) return last;
    let allowed = byUrl.get(raw);
    if (allowed === undefined) {
      // '?' and '#' end the authority and the path in every URL the parser accepts.
      let cut = -1;
      if (pathOnly) {
        const q = raw.indexOf('?');
        const h = raw.indexOf('#');
        cut = q < 0 ? h : h < 0 ? q : Math.min(q, h);
      }
      const key = cut < 0 ? raw : raw.slice(0, cut);
      allowed = byPath.get(key);
      if (allowed === undefined) {
        let url: URL | null = null;
        try {
          url = new URL(key, base);
        } catch {
          url = null;
        }
        allowed = !!url && (url.protocol === 'https:' || url.protocol === 'http:') && compiled.some((match) => match(url!));
        if (byPath.size >= CACHE_LIMIT) byPath.clear();
        byPath.set(key, allowed);
      }
      if (byUrl.size >= CACHE_LIMIT) byUrl.clear();
      byUrl.set(raw, allowed);
    }
    lastUrl = raw;
    return (last = allowed);
  };
}
