// Which token a request gets when an app has several (`withApiToken()`): the URL rules of every token
// ranked in one table. Decided deterministically, never "first wins":
//   1. among prefix and path rules of all tokens, the longest prefix that matches wins (a rule limited
//      to some methods before one that is not, on the same prefix);
//   2. RegExp and function rules rank below every prefix rule and tie in declaration order (the default
//      token's rules first, then each withApiToken() in the order given);
//   3. a URL no rule matches gets no token.
// Two tokens with the same prefix and the same (or overlapping) methods are refused at startup
// (NFT112): whichever one a request would get is a guess. Decisions are cached per URL (and method,
// when a rule names methods), so the cost per request stays flat however many rules there are.
import { ɵerror } from './errors';
import { compileUrlMatcher, ɵUNTRIMMED, ɵcanonicalPath, ɵsendable, type UrlMatcher } from './url-matcher';

/**
 * One URL rule of `withApiToken()`: a {@link UrlMatcher} (a URL prefix, a path on the app's origin, a
 * RegExp or a function), optionally limited to some HTTP methods.
 *
 * @example
 * const rules: ApiUrlRule[] = ['https://reports.example.com', { url: '/api/reports', methods: ['GET'] }, /^https:\/\/[a-z]+\.example\.net\//];
 */
export type ApiUrlRule = UrlMatcher | { url: UrlMatcher; methods: readonly string[] };

/** URLs resolve against this when there is no document (plain Node, some servers). */
const FALLBACK_BASE = 'https://ngx-fresh-token.invalid/';
/** Cached decisions at most. */
const CACHE_LIMIT = 4_096;

/** @internal A token's rules for the table: `null` stands for the same-origin default (the default token without `withAuthorizedUrls()`). */
export interface ɵTokenRules<T> {
  /** The token's name in messages (`null`: the default token). */
  name: string | null;
  rules: readonly ApiUrlRule[] | null;
  /** What a request for this token gets (called once, on the first request that needs it). */
  target: () => T;
}

interface Rule {
  token: number;
  /** The rule as written, for messages. */
  text: string;
  /** Upper-case methods, or `null` for every method. */
  methods: ReadonlySet<string> | null;
  /** Prefix rules: `origin` + the path prefix ending in `/` (ranking and conflicts); `null` for RegExp and function rules. */
  prefix: string | null;
  test: (url: URL) => boolean;
}

/** @internal Checks `rules` now, so that a typo fails at bootstrap (`NFT104`), not silently at the first request. */
export function ɵcheckApiRules(rules: readonly ApiUrlRule[]): void {
  const bad = () =>
    ɵerror(
      'NFT104',
      (typeof ngDevMode === 'undefined' || ngDevMode)
        ? 'withApiToken() takes a non-empty list of URL rules: http(s) URL prefixes, paths on the app origin ("/api"), RegExps or (url: URL) => boolean functions, each optionally as { url, methods: ["GET", …] } with at least one method.'
        : '',
    );
  if (!Array.isArray(rules) || rules.length === 0) throw bad();
  for (const rule of rules) {
    const { url, methods } = split(rule);
    if (methods !== null && (!Array.isArray(methods) || methods.length === 0 || methods.some((m) => typeof m !== 'string' || !/^[A-Za-z]+$/.test(m)))) throw bad();
    try {
      compileUrlMatcher(url, FALLBACK_BASE);
    } catch {
      throw bad();
    }
  }
}

function split(rule: ApiUrlRule): { url: UrlMatcher; methods: readonly string[] | null } {
  return typeof rule === 'object' && rule !== null && !(rule instanceof RegExp) ? { url: rule.url, methods: rule.methods } : { url: rule, methods: null };
}

const nameOf = (name: string | null) => (name === null ? 'the default token' : `"${name}"`);

/**
 * @internal Compiles the rules of every token into one decision function: `(url, method)` → the target of the
 * token that gets the request, or `null`. Throws `NFT112` when two tokens have a prefix rule with the
 * same prefix and overlapping methods. `baseHref` (a string, or a function read at every call: the cache
 * follows it) and `appOrigin` as for `createUrlAuthorizer()`.
 * In dev mode, warns once per pair of rules (`NFT113`) when one URL matched the rules of two tokens.
 *
 * @example
 * const decide = ɵcompileTokenRules([{ name: null, rules: ['/api'], target: () => 'default' }, { name: 'reports', rules: ['/api/reports'], target: () => 'reports' }], location.href);
 * decide('/api/reports/1', 'GET'); // 'reports'
 */
export function ɵcompileTokenRules<T>(
  tokens: ReadonlyArray<ɵTokenRules<T>>,
  baseHref: string | null | undefined | (() => string | null | undefined),
  appOrigin?: string | null,
): (url: string, method: string) => T | null {
  const baseOf = typeof baseHref === 'function' ? baseHref : null;
  let base = (baseOf ? baseOf() : (baseHref as string | null | undefined)) || FALLBACK_BASE;
  const origin = appOrigin && appOrigin !== 'null' ? appOrigin : new URL(base).origin;
  const prefixes: Rule[] = [];
  const others: Rule[] = [];
  tokens.forEach(({ rules }, token) => {
    for (const rule of rules ?? [`${origin}/`]) {
      const { url, methods } = split(rule);
      const text = String(url);
      let prefix: string | null = null;
      if (typeof url === 'string') {
        // Ranked and compared on the canonical path, as the rule matches (url-matcher.ts; checked by ɵcheckApiRules()).
        const { origin: o, pathname } = new URL(url, `${origin}/`);
        const path = ɵcanonicalPath(pathname)!;
        prefix = `${o}${path.endsWith('/') ? path : `${path}/`}`;
      }
      const compiled: Rule = { token, text, methods: methods && new Set(methods.map((m) => m.toUpperCase())), prefix, test: compileUrlMatcher(url, `${origin}/`) };
      (prefix === null ? others : prefixes).push(compiled);
    }
  });
  // Same prefix, overlapping methods, two tokens: refused (a rule with methods beside one without is
  // not: the one with methods is the more specific).
  for (let i = 0; i < prefixes.length; i++) {
    for (let j = i + 1; j < prefixes.length; j++) {
      const a = prefixes[i];
      const b = prefixes[j];
      if (a.token === b.token || a.prefix !== b.prefix || !!a.methods !== !!b.methods) continue;
      if (a.methods && ![...a.methods].some((m) => b.methods!.has(m))) continue;
      throw ɵerror(
        'NFT112',
        (typeof ngDevMode === 'undefined' || ngDevMode)
          ? `${nameOf(tokens[a.token].name)} and ${nameOf(tokens[b.token].name)} both have the URL rule ${a.prefix}${a.methods ? ` for ${[...a.methods].join(', ')}` : ''}: which token a request gets would be a guess. To fix the problem, give the prefix to one token, or split it by methods ({ url, methods }).`
          : '',
      );
    }
  }
  // The ranking: longest prefix first, a rule with methods before one without, then declaration order
  // (a stable sort keeps it); RegExp and function rules after, in declaration order.
  prefixes.sort((a, b) => b.prefix!.length - a.prefix!.length || +!!b.methods - +!!a.methods);
  const ranked = [...prefixes, ...others];
  const byMethod = ranked.some((r) => r.methods);
  // Prefix rules look at the origin and the path only: the query and fragment need not be part of the key.
  const pathOnly = others.length === 0;
  const targets: Array<{ value: T } | undefined> = [];
  const warned = new Set<string>();
  // Decisions by the URL as sent and by what decides them (without query and fragment, for prefix
  // rules only), per method when a rule names methods; the last decision is checked first.
  const decisions = new Map<string, Map<string, number>>();
  let lastRaw = '';
  let lastMethod = '';
  let last = -1;

  const decide = (raw: string, method: string): number => {
    let url: URL | undefined;
    try {
      url = new URL(raw, base);
    } catch {
      // not a URL: no token
    }
    // Not http(s), or with userinfo (which RegExp and function rules would see in `href`): no token.
    if (!ɵsendable(url)) return -1;
    // The first matching rule in rank order wins; the rules below it run only in dev mode, for NFT113.
    const dev = typeof ngDevMode === 'undefined' || !!ngDevMode;
    let winner: Rule | undefined;
    let loser: Rule | undefined;
    for (const r of ranked) {
      if ((r.methods && !r.methods.has(method)) || !r.test(url)) continue;
      if (!winner) {
        winner = r;
        if (!dev) break;
      } else if (r.token !== winner.token) {
        loser = r;
        break;
      }
    }
    if (winner && dev) {
      const key = loser && `${ranked.indexOf(winner)}>${ranked.indexOf(loser)}`;
      if (key && !warned.has(key)) {
        warned.add(key);
        const why =
          winner.prefix === null
            ? 'RegExp and function rules rank in declaration order'
            : loser!.prefix === null
              ? 'prefix and path rules rank above RegExp and function rules'
              : winner.prefix !== loser!.prefix
                ? 'the longest prefix wins'
                : 'a rule limited to methods wins';
        console.warn(
          `NFT113: ${method} ${raw} matched URL rules of two tokens: ${nameOf(tokens[winner.token].name)} (${winner.text}) and ${nameOf(tokens[loser!.token].name)} (${loser!.text}); ` +
            `${nameOf(tokens[winner.token].name)} is sent (${why}). If that is not what you meant, narrow the rules. (Once per pair of rules.)`,
        );
      }
    }
    return winner ? winner.token : -1;
  };

  return (raw, method) => {
    // Another base (`<base href>` changed), other decisions for relative URLs: the cache starts again.
    const now = baseOf && (baseOf() || FALLBACK_BASE);
    if (now && now !== base) {
      base = now;
      decisions.clear();
      lastRaw = '';
    }
    let token = last;
    if (raw !== lastRaw || method !== lastMethod) {
      const scope = byMethod ? method : '';
      let map = decisions.get(scope);
      if (!map) decisions.set(scope, (map = new Map()));
      let decided = map.get(raw);
      if (decided === undefined) {
        // (Not with a space or control character in it: see createUrlAuthorizer.)
        const cut = pathOnly && !ɵUNTRIMMED.test(raw) ? raw.search(/[?#]/) : -1;
        const key = cut < 0 ? raw : raw.slice(0, cut);
        decided = map.get(key) ?? decide(raw, method);
        if (map.size >= CACHE_LIMIT) map.clear();
        map.set(key, decided).set(raw, decided);
      }
      lastRaw = raw;
      lastMethod = method;
      last = token = decided;
    }
    return token < 0 ? null : (targets[token] ??= { value: tokens[token].target() }).value;
  };
}
