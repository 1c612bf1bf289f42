import fc from 'fast-check';
import { ApiUrlRule, ɵcompileTokenRules, ɵTokenRules } from './url-rules';

// Property-based tests of the URL rule table of withApiToken(): generated rule sets for three tokens
// (prefixes on a few origins, paths built from near-miss segments such as 'a' / 'ab', with and without
// a trailing slash, absolute or relative, with and without methods) and generated request URLs (near-miss
// hosts and paths, queries and fragments that spell other URLs), checked against a model that works on
// the generated parts with string operations instead of URL parsing.

const APP = 'https://app.example.com';
const ORIGINS = [APP, 'https://api.example.com', 'https://reports.example.com'];
/** Hosts requests go to: the rules' origins and look-alikes that must never match them. */
const REQUEST_ORIGINS = [...ORIGINS, 'https://app.example.com.evil.test', 'https://api.example.com:8443', 'http://api.example.com'];
const SEGMENTS = ['a', 'ab', 'b', 'v1'];
const METHODS = ['GET', 'POST', 'PUT'];
const NAMES = [null, 'reports', 'events'] as const;
/** What each token's decision returns (the default token's name is null). */
const TARGETS = ['default', 'reports', 'events'];

interface GenRule {
  origin: string;
  segments: string[];
  trailingSlash: boolean;
  /** Written as a path ('/a/b') instead of a URL when on the app's origin. */
  relative: boolean;
  methods: string[] | null;
}

const genRule: fc.Arbitrary<GenRule> = fc.record({
  origin: fc.constantFrom(...ORIGINS),
  segments: fc.array(fc.constantFrom(...SEGMENTS), { maxLength: 3 }),
  trailingSlash: fc.boolean(),
  relative: fc.boolean(),
  methods: fc.option(fc.subarray(METHODS, { minLength: 1 }), { nil: null }),
});

/** Rules of the three tokens (each at least one). */
const genTable = fc.tuple(...NAMES.map(() => fc.array(genRule, { minLength: 1, maxLength: 5 })));

interface GenUrl {
  origin: string;
  segments: string[];
  trailingSlash: boolean;
  relative: boolean;
  query: string;
  hash: string;
  method: string;
}

const genUrl: fc.Arbitrary<GenUrl> = fc.record({
  origin: fc.constantFrom(...REQUEST_ORIGINS),
  segments: fc.array(fc.constantFrom(...SEGMENTS), { maxLength: 4 }),
  trailingSlash: fc.boolean(),
  relative: fc.boolean(),
  // Queries and fragments that look like paths and URLs the rules name: they must never decide.
  query: fc.constantFrom('', '?page=2', '?next=/a/b', `?u=${encodeURIComponent('https://reports.example.com/a')}`, '?https://reports.example.com/v1'),
  hash: fc.constantFrom('', '#top', '#/a/ab', '#https://api.example.com/a'),
  method: fc.constantFrom(...METHODS),
});

const pathOf = (segments: string[], trailingSlash: boolean) => `/${segments.join('/')}${trailingSlash && segments.length ? '/' : ''}`;

function ruleText(r: GenRule): ApiUrlRule {
  const path = pathOf(r.segments, r.trailingSlash);
  const url = r.origin === APP && r.relative ? path : r.origin + (path === '/' && !r.trailingSlash ? '' : path);
  return r.methods ? { url, methods: r.methods } : url;
}

function urlText(u: GenUrl): string {
  const path = pathOf(u.segments, u.trailingSlash);
  return (u.origin === APP && u.relative ? path : u.origin + path) + u.query + u.hash;
}

/** The rule's prefix as the model sees it: origin + path, ending in '/'. */
const modelPrefix = (r: GenRule) => `${r.origin}${r.segments.length ? `/${r.segments.join('/')}/` : '/'}`;

/** Whether two tokens' rules are the conflict NFT112 refuses: same prefix, and both without methods or with methods in common. */
function modelConflict(table: GenRule[][]): boolean {
  const all = table.flatMap((rules, token) => rules.map((r) => ({ token, r })));
  return all.some((a, i) =>
    all.slice(i + 1).some(
      (b) =>
        a.token !== b.token &&
        modelPrefix(a.r) === modelPrefix(b.r) &&
        (a.r.methods === null) === (b.r.methods === null) &&
        (a.r.methods === null || a.r.methods.some((m) => b.r.methods!.includes(m))),
    ),
  );
}

/** The token a request gets, by the documented ranking: the longest prefix, a rule with methods first, then declaration order. */
function modelDecide(table: GenRule[][], u: GenUrl): string | null {
  const origin = u.origin;
  const path = pathOf(u.segments, u.trailingSlash);
  const candidates = table
    .flatMap((rules, token) => rules.map((r, index) => ({ token, r, order: token * 100 + index })))
    .filter(({ r }) => {
      if (r.origin !== origin || (r.methods && !r.methods.includes(u.method))) return false;
      if (!r.segments.length) return true;
      const rulePath = pathOf(r.segments, r.trailingSlash);
      // Segment-aware: '/a' covers '/a' and '/a/…', never '/ab'; '/a/' covers '/a/…' only.
      return path === rulePath || path.startsWith(rulePath.endsWith('/') ? rulePath : `${rulePath}/`);
    })
    .sort((x, y) => modelPrefix(y.r).length - modelPrefix(x.r).length || +!!y.r.methods - +!!x.r.methods || x.order - y.order);
  return candidates.length ? TARGETS[candidates[0].token] : null;
}

function compile(table: GenRule[][], order: readonly number[] = [0, 1, 2], extra: Array<ApiUrlRule[]> = [[], [], []]) {
  const tokens: Array<ɵTokenRules<string>> = order.map((i) => ({ name: NAMES[i], rules: [...table[i].map(ruleText), ...extra[i]], target: () => TARGETS[i] }));
  return ɵcompileTokenRules(tokens, `${APP}/page`, APP);
}

const decisionOf = (decide: (url: string, method: string) => string | null, u: GenUrl) => decide(urlText(u), u.method);

describe('URL rules of withApiToken() (property-based)', () => {
  let warn: jasmine.Spy;
  beforeEach(() => (warn = spyOn(console, 'warn')));

  it('refuses exactly the tables where two tokens share a prefix with overlapping methods (NFT112), however the prefix is spelled', () => {
    fc.assert(
      fc.property(genTable, (table) => {
        let code: string | null = null;
        try {
          compile(table);
        } catch (err) {
          code = (err as { code?: string }).code ?? String(err);
        }
        expect(code).toBe(modelConflict(table) ? 'NFT112' : null);
      }),
      { numRuns: 500 },
    );
  });

  it('every URL goes to the token of the longest matching prefix (a rule with methods first), segment by segment, whatever its query and fragment; the cache never changes a decision', () => {
    fc.assert(
      fc.property(
        genTable.filter((t) => !modelConflict(t)),
        fc.array(genUrl, { minLength: 1, maxLength: 40 }),
        (table, urls) => {
          const decide = compile(table);
          // Each URL twice, and again after the others: cached decisions must be the same decisions.
          for (const u of [...urls, ...urls.slice().reverse()]) expect(decisionOf(decide, u)).toBe(modelDecide(table, u));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a space or control character before the query or fragment never lets a cached decision stand for another path (attacker review)', () => {
    // The URL parser strips spaces and C0 controls from the ends of its input but keeps them inside:
    // '/a/b #x' is sent to '/a/b%20', while '/a/b ' is '/a/b'. Each decision must be the one a fresh table makes.
    const spaced = fc.tuple(genUrl, fc.constantFrom(' ', '  ', '\u0001', '\u001f'), fc.constantFrom('', '?q', '#x'));
    fc.assert(
      fc.property(genTable.filter((t) => !modelConflict(t)), fc.array(spaced, { minLength: 1, maxLength: 12 }), (table, urls) => {
        const shared = compile(table);
        const texts = urls.flatMap(([u, space, tail]) => {
          const plain = urlText({ ...u, query: '', hash: '' });
          return [`${plain}${space}${tail}`, `${plain}${space}`, plain].map((text) => [text, u.method] as const);
        });
        for (const [text, method] of [...texts, ...texts.slice().reverse()]) expect(shared(text, method)).withContext(text).toBe(compile(table)(text, method));
      }),
      { numRuns: 200 },
    );
    const decide = ɵcompileTokenRules([{ name: 'reports', rules: ['/api/r'], target: () => 'reports' }, { name: 'default', rules: ['/api'], target: () => 'default' }], `${APP}/page`, APP);
    expect(decide('/api/r #x', 'GET')).toBe('default'); // sent to /api/r%20: not the segment /api/r
    expect(decide('/api/r ', 'GET')).toBe('reports'); // sent to /api/r
  });

  it('the order the tokens are declared in never changes where a prefix rule sends a URL', () => {
    fc.assert(
      fc.property(
        genTable.filter((t) => !modelConflict(t)),
        fc.constantFrom([0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]),
        fc.array(genUrl, { minLength: 1, maxLength: 20 }),
        (table, order, urls) => {
          const declared = compile(table);
          const shuffled = compile(table, order);
          for (const u of urls) expect(decisionOf(shuffled, u)).toBe(decisionOf(declared, u));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('RegExp and function rules rank below every prefix rule, and tie in declaration order among themselves', () => {
    fc.assert(
      fc.property(
        genTable.filter((t) => !modelConflict(t)),
        // Which tokens get a catch-all RegExp / function rule (at least one).
        fc.subarray([0, 1, 2], { minLength: 1 }),
        fc.boolean(),
        fc.array(genUrl, { minLength: 1, maxLength: 20 }),
        (table, catchAll, asRegExp, urls) => {
          const extra: ApiUrlRule[][] = [0, 1, 2].map((i) => (catchAll.includes(i) ? [asRegExp ? /^https?:\/\// : () => true] : []));
          const decide = compile(table, [0, 1, 2], extra);
          for (const u of urls) {
            const byPrefix = modelDecide(table, u);
            // No prefix rule: the first token (in declaration order) that has a catch-all.
            expect(decisionOf(decide, u)).toBe(byPrefix ?? TARGETS[Math.min(...catchAll)]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('warns (NFT113) only when two tokens matched, once per pair of rules: the same URLs again warn no more', () => {
    fc.assert(
      fc.property(
        genTable.filter((t) => !modelConflict(t)),
        fc.array(genUrl, { minLength: 1, maxLength: 30 }),
        (table, urls) => {
          warn.calls.reset();
          const decide = compile(table);
          // URLs ending in '/': one more segment below them ('zz', which no rule names) is matched by the same rules.
          const dirs = urls.map((u) => ({ ...u, trailingSlash: true }));
          for (const u of dirs) decide(urlText(u), u.method);
          const first = warn.calls.count();
          expect(warn.calls.allArgs().every((args) => String(args[0]).startsWith('NFT113:'))).toBeTrue();
          // Other URLs (not cached) that the same pairs of rules decide: no more warnings.
          for (const u of dirs) decide(urlText({ ...u, segments: [...u.segments, 'zz'] }), u.method);
          expect(warn.calls.count()).toBe(first);
          // A URL that only one token's rules match never warns.
          const fresh = compile(table);
          warn.calls.reset();
          for (const u of urls) {
            const matchedBy = new Set(table.flatMap((rules, token) => (rules.some((r) => modelDecide([[r]], u) !== null) ? [token] : [])));
            const before = warn.calls.count();
            fresh(urlText(u), u.method);
            if (matchedBy.size < 2) expect(warn.calls.count()).toBe(before);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a URL carrying userinfo gets no token, whatever rule would match its href (attacker review)', () => {
    fc.assert(
      fc.property(
        genTable.filter((t) => !modelConflict(t)),
        genUrl.filter((u) => !u.relative || u.origin !== APP),
        fc.constantFrom('u', 'u:p', ':p', 'reports.example.com', 'api.example.com:443'),
        (table, u, userinfo) => {
          const decide = compile(table, [0, 1, 2], [[/^https:\/\/reports\.example\.com/], [() => true], []]);
          const url = urlText(u).replace('://', `://${userinfo}@`);
          expect(decide(url, u.method)).withContext(url).toBeNull();
        },
      ),
      { numRuns: 200 },
    );
  });
});
