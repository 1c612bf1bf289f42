import { ɵerror } from './errors';

/**
 * One entry of `withAuthorizedUrls()`: a URL prefix (`'https://api.example.com/v1'`, or a
 * path such as `'/api'` on the app's own origin), a RegExp tested against the full resolved
 * URL (anchor it: `/^https:\/\/api\.example\.com\//`), or a predicate on the parsed URL.
 *
 * @example
 * const matchers: UrlMatcher[] = ['/api', 'https://api.example.com/v1', /^https:\/\/[a-z]+\.example\.net\//, (url) => url.hostname === 'files.example.com'];
 * provideFreshToken(withTokenSource(source), withAuthorizedUrls(...matchers));
 */
export type UrlMatcher = string | RegExp | ((url: URL) => boolean);

/** URLs are resolved against this when there is no document (plain Node, some servers). */
const FALLBACK_BASE = 'https://ngx-fresh-token.invalid/';
/** Cached decisions at most (URLs as sent and their paths). */
const CACHE_LIMIT = 4_096;

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
  // An http(s) URL, or a path on the app's origin ('//host' and '/\host' are other hosts).
  if (typeof matcher === 'string' && /^(https?:\/\/|\/(?![/\\]))/i.test(matcher)) {
    try {
      prefix = new URL(matcher, baseHref);
    } catch {
      // not a URL: refused below
    }
  }
  if (!prefix || prefix.username || prefix.password || prefix.search || prefix.hash) {
    throw ɵerror(
      'NFT104',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withAuthorizedUrls() takes http(s) URL prefixes without credentials, query or hash (e.g. "https://api.example.com/v1"), paths on the app origin (e.g. "/api"), RegExps or (url: URL) => boolean functions.' : '',
    );
  }
  const { origin, pathname } = prefix;
  // Segment-aware: '/api' matches '/api' and '/api/x' but not '/apix'.
  const under = pathname.endsWith('/') ? pathname : `${pathname}/`;
  return (url) => url.origin === origin && (pathname === '/' || url.pathname === pathname || url.pathname.startsWith(under));
}

/**
 * Builds the check the interceptor runs on every request URL: it resolves the URL against
 * `baseHref` (so `//evil.test`, `https://api.example.com@evil.test` and `/\evil.test` are
 * seen for what they are), then compares origins and path prefixes, never substrings.
 * With `matchers === null` only `appOrigin` (default: the base URL's origin) is authorized;
 * path matchers such as `'/api'` also mean paths on `appOrigin`. Decisions are cached per URL
 * string and, with string matchers only, per URL without its query and fragment (another query on
 * a known path is decided without parsing), 4 096 entries at most; the last decision is checked first.
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
  const compiled = matchers ? matchers.map((m) => compileUrlMatcher(m, `${origin}/`)) : [(url: URL) => url.origin === origin];
  // String matchers look at the origin and the path only, so the query and fragment (where URLs
  // differ most: pages, ids, cache busters) need not be part of the parsed decision.
  const pathOnly = !matchers || matchers.every((m) => typeof m === 'string');
  // Decisions by the URL as sent (a hit costs one lookup) and by what decides them (the URL without
  // its query and fragment, for string matchers): both kinds of key in one map.
  const decisions = new Map<string, boolean>();
  // The last decision, checked first: an app sends the same URL many times in a row.
  let lastUrl = '';
  let last = false;
  return (raw: string) => {
    if (raw === lastUrl) return last;
    let allowed = decisions.get(raw);
    if (allowed === undefined) {
      // '?' and '#' end the authority and the path in every URL the parser accepts.
      const cut = pathOnly ? raw.search(/[?#]/) : -1;
      const key = cut < 0 ? raw : raw.slice(0, cut);
      allowed = decisions.get(key);
      if (allowed === undefined) {
        let url: URL | undefined;
        try {
          url = new URL(key, base);
        } catch {
          // not a URL: no token
        }
        allowed = !!url && /^https?:$/.test(url.protocol) && compiled.some((match) => match(url!));
      }
      if (decisions.size >= CACHE_LIMIT) decisions.clear();
      decisions.set(key, allowed).set(raw, allowed);
    }
    lastUrl = raw;
    return (last = allowed);
  };
}
