import { ɵerror } from './errors';

/**
 * One entry of `withAuthorizedUrls()`: a URL prefix (`'https://api.example.com/v1'`, or a
 * path such as `'/api'` on the app's own origin), a RegExp tested against the full resolved
 * URL (anchor it: `/^https:\/\/api\.example\.com\//`), or a predicate on the parsed URL (one that
 * throws counts as no match; dev mode warns once, `NFT116`). A URL with userinfo is never matched.
 *
 * @example
 * const matchers: UrlMatcher[] = ['/api', 'https://api.example.com/v1', /^https:\/\/[a-z]+\.example\.net\//, (url) => url.hostname === 'files.example.com'];
 * provideFreshToken(withTokenSource(source), withAuthorizedUrls(...matchers));
 */
export type UrlMatcher = string | RegExp | ((url: URL) => boolean);

/** @internal A space or C0 control character: what the URL parser strips from the ends of its input. */
export const ɵUNTRIMMED = /[\u0000-\u0020]/;

/**
 * @internal The URL a request is decided on: `req.url` (its params only add a query, which decides
 * nothing), unless it has a space or control character, which the parser strips from the end of
 * `'/api '` but keeps inside `'/api ?q=1'` (sent to `/api%20`): then the URL as sent, params included.
 */
export function ɵsentUrl(req: { url: string; urlWithParams: string }): string {
  // Without params the two are one string (HttpRequest sets urlWithParams to url): no test on the common path.
  return req.urlWithParams !== req.url && ɵUNTRIMMED.test(req.url) ? req.urlWithParams : req.url;
}
/** URLs are resolved against this when there is no document (plain Node, some servers). */
const FALLBACK_BASE = 'https://ngx-fresh-token.invalid/';
/** Cached decisions at most (URLs as sent and their paths). */
const CACHE_LIMIT = 4_096;

/**
 * @internal Whether a request to `url` may carry anything of ours at all (a token, `X-CSRF`): an http(s) URL
 * without userinfo. A user name or password is refused whatever the rules say: RegExp and function rules
 * would see it in `href` (`https://api.example.com@evil.test/` goes to `evil.test`), and no API needs one.
 */
export function ɵsendable(url: URL | undefined): url is URL {
  return !!url && /^https?:$/.test(url.protocol) && !url.username && !url.password;
}

/**
 * @internal The path prefix rules are matched on: `pathname` (as the URL parser leaves it, dot segments
 * resolved) as a server that normalizes paths may read it — percent-encoded unreserved characters decoded
 * (`%65` → `e`), `%2F` and `%5C` as separators, `;` path parameters dropped, repeated `/` collapsed — or
 * `null` when that leaves a dot segment (`..%2F`, `..;`), whose target depends on the server. Case is kept:
 * paths are case-sensitive (RFC 3986 §6.2.2.1). The request itself is sent as it was written.
 *
 * @example
 * ɵcanonicalPath('/api//r%65ports;v=1%2F1'); // '/api/reports/1'
 * ɵcanonicalPath('/api/x/..%2Fadmin'); // null
 */
export function ɵcanonicalPath(pathname: string): string | null {
  // Most paths have nothing to normalize: no second parse, no allocation.
  if (!/[%;]|\/\//.test(pathname)) return pathname;
  let path = pathname;
  // Until nothing changes: a decoded character may complete another escape ('%2%65' → '%2e' → '.').
  for (let before = ''; before !== path; ) {
    before = path;
    path = path
      .replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
        const char = String.fromCharCode(parseInt(hex, 16));
        return char === '/' || char === '\\' ? '/' : /[\w.~-]/.test(char) ? char : escape;
      })
      .replace(/;[^/]*/g, '')
      .replace(/\/{2,}/g, '/');
  }
  return path.split('/').some((segment) => segment === '.' || segment === '..') ? null : path;
}

/** @internal Whether `path` is `prefix` or below it by whole segments (`under` is `prefix` ending in `/`); never when `path` is `null`. */
export const ɵisUnder = (path: string | null, prefix: string, under: string) => path !== null && (prefix === '/' || path === prefix || path.startsWith(under));

/**
 * Compiles one matcher into a predicate on parsed URLs. Strings are parsed once, here; a
 * string that is not an http(s) URL or an absolute path throws `NFT104`. A prefix matches the URL's
 * canonical path — as a server that normalizes paths reads it: `/api//x`, `/%61pi/x`, `/api%2Fx` and
 * `/api;v=1/x` are under `/api`, and a path with a hidden dot segment (`..%2F`, `..;`) is under no prefix.
 *
 * @example
 * compileUrlMatcher('https://api.example.com/v1', location.href)(new URL('https://api.example.com/v1/me')); // true
 */
export function compileUrlMatcher(matcher: UrlMatcher, baseHref: string): (url: URL) => boolean {
  if (typeof matcher === 'function') {
    // A rule that throws (`u.searchParams.get('x')!…`) matches nothing: it must not fail every request.
    let warned = false;
    return (url) => {
      try {
        return !!matcher(url);
      } catch (err) {
        if ((typeof ngDevMode === 'undefined' || ngDevMode) && !warned) {
          warned = true;
          console.warn(`NFT116: The URL rule ${matcher.name || '(url) => …'} threw (${err instanceof Error ? err.name : typeof err}) for a request to ${url.origin}; it counts as no match. To fix the problem, make it return false for URLs it does not expect. (Once per rule.)`);
        }
        return false;
      }
    };
  }
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
  const path = prefix && ɵcanonicalPath(prefix.pathname);
  if (!prefix || path === null || prefix.username || prefix.password || prefix.search || prefix.hash) {
    throw ɵerror(
      'NFT104',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withAuthorizedUrls() takes http(s) URL prefixes without credentials, query or hash (e.g. "https://api.example.com/v1"), paths on the app origin (e.g. "/api"), RegExps or (url: URL) => boolean functions.' : '',
    );
  }
  const { origin } = prefix;
  // Segment-aware, on the canonical path: '/api' matches '/api', '/api/x' and '/api//x', not '/apix'.
  const under = path.endsWith('/') ? path : `${path}/`;
  return (url) => url.origin === origin && ɵisUnder(ɵcanonicalPath(url.pathname), path, under);
}

/**
 * Builds the check the interceptor runs on every request URL: it resolves the URL against
 * `baseHref` (so `//evil.test`, `https://api.example.com@evil.test` and `/\evil.test` are
 * seen for what they are), then compares origins and path prefixes, never substrings.
 * With `matchers === null` only `appOrigin` (default: the base URL's origin) is authorized;
 * path matchers such as `'/api'` also mean paths on `appOrigin`. Prefixes are compared with the
 * canonical path (see {@link compileUrlMatcher}; `compile` replaces it, as `withBffProxy()` does for its
 * looser match); a URL with userinfo is never authorized. Decisions are cached per URL
 * string and, with string matchers only, per URL without its query and fragment (another query on
 * a known path is decided without parsing), 4 096 entries at most; the last decision is checked first.
 * `baseHref` may be a function, read at every call (`document.baseURI`: `<base href>` may change after
 * startup); when what it returns changes, the cached decisions are dropped.
 *
 * @example
 * const isAuthorized = createUrlAuthorizer(null, document.baseURI);
 * isAuthorized('/api/me'); // true
 * isAuthorized('https://evil.test/'); // false
 */
export function createUrlAuthorizer(
  matchers: readonly UrlMatcher[] | null,
  baseHref: string | null | undefined | (() => string | null | undefined),
  appOrigin?: string | null,
  compile: (matcher: UrlMatcher, baseHref: string) => (url: URL) => boolean = compileUrlMatcher,
): (url: string) => boolean {
  const baseOf = typeof baseHref === 'function' ? baseHref : null;
  let base = (baseOf ? baseOf() : (baseHref as string | null | undefined)) || FALLBACK_BASE;
  // The app's own origin is where the page came from, not where `<base href>` points (a CDN).
  const origin = appOrigin && appOrigin !== 'null' ? appOrigin : new URL(base).origin;
  const compiled = matchers ? matchers.map((m) => compile(m, `${origin}/`)) : [(url: URL) => url.origin === origin];
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
    // Another base, other decisions for relative URLs: the cache starts again.
    const now = baseOf && (baseOf() || FALLBACK_BASE);
    if (now && now !== base) {
      base = now;
      decisions.clear();
      lastUrl = '';
    }
    if (raw === lastUrl) return last;
    let allowed = decisions.get(raw);
    if (allowed === undefined) {
      // '?' and '#' end the authority and the path in every URL the parser accepts. Not with a space or a
      // control character in it: the parser strips those from the ends of what it is given ('/api ' is
      // '/api'), but keeps them inside ('/api #x' is '/api%20'), so the cut URL could decide for another path.
      const cut = pathOnly && !ɵUNTRIMMED.test(raw) ? raw.search(/[?#]/) : -1;
      const key = cut < 0 ? raw : raw.slice(0, cut);
      allowed = decisions.get(key);
      if (allowed === undefined) {
        let url: URL | undefined;
        try {
          url = new URL(key, base);
        } catch {
          // not a URL: no token
        }
        allowed = ɵsendable(url) && compiled.some((match) => match(url!));
      }
      if (decisions.size >= CACHE_LIMIT) decisions.clear();
      decisions.set(key, allowed).set(raw, allowed);
    }
    lastUrl = raw;
    return (last = allowed);
  };
}
