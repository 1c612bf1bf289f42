import fc from 'fast-check';
import { UrlMatcher, createUrlAuthorizer, ɵcanonicalPath } from './url-matcher';

describe('createUrlAuthorizer', () => {
  const base = 'https://app.example.com/page';

  it('decides on origin and path; the query and fragment never change a string matcher’s decision', () => {
    const allowed = createUrlAuthorizer(['https://api.example.com/v1'], base, 'https://app.example.com');
    expect(allowed('https://api.example.com/v1/items?page=2#top')).toBeTrue();
    expect(allowed('https://api.example.com/v1/items?x=@evil.test')).toBeTrue();
    expect(allowed('https://api.example.com/v1?https://evil.test/')).toBeTrue();
    expect(allowed('https://evil.test/?https://api.example.com/v1')).toBeFalse();
    expect(allowed('https://evil.test/#https://api.example.com/v1')).toBeFalse();
    expect(allowed('https://api.example.com/v2?/v1')).toBeFalse();
    expect(allowed('https://api.example.com.evil.test/v1?q')).toBeFalse();
  });

  it('the same URL with another query is decided from the cache, and stays right after 5 000 distinct URLs', () => {
    const allowed = createUrlAuthorizer(null, base, 'https://app.example.com');
    for (let i = 0; i < 5_000; i++) {
      expect(allowed(`/api/items/${i}?page=${i}`)).toBeTrue();
      expect(allowed(`https://evil.test/items/${i}?page=${i}`)).toBeFalse();
    }
  });

  it('a space or control character before the query or fragment is part of the path the request goes to (attacker review)', () => {
    const allowed = createUrlAuthorizer(['/api'], base, 'https://app.example.com');
    // fetch sends '/api #x' to /api%20 (outside '/api'), and '/api ' to /api.
    expect(allowed('/api #x')).toBeFalse();
    expect(allowed('/api ')).toBeTrue();
    expect(allowed('/api\u0001?q')).toBeFalse();
    // What the request is sent to, parsed whole: the model of the two rules.
    const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);
    const model = (raw: string) => {
      const url = new URL(raw, base);
      return (url.origin === 'https://app.example.com' && under(url.pathname, '/api')) || (url.origin === 'https://api.example.com' && under(url.pathname, '/v1'));
    };
    const shared = createUrlAuthorizer(['/api', 'https://api.example.com/v1'], base, 'https://app.example.com');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('/api', '/api/x', '/apix', 'https://api.example.com/v1', 'https://api.example.com/v1/a'), fc.constantFrom('', ' ', '  ', '\u0000', '\u001f'), fc.constantFrom('', '?q', '#f', '?a#b')), { minLength: 1, maxLength: 10 }),
        (parts) => {
          const urls = parts.flatMap(([path, space, tail]) => [`${path}${space}${tail}`, `${path}${space}`]);
          for (const url of [...urls, ...urls.slice().reverse()]) expect(shared(url)).withContext(JSON.stringify(url)).toBe(model(url));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('RegExp and function matchers still see the whole URL, query included', () => {
    const allowed = createUrlAuthorizer([/^https:\/\/api\.example\.com\/search\?scope=me/, (url) => url.searchParams.get('auth') === 'yes'], base);
    expect(allowed('https://api.example.com/search?scope=me')).toBeTrue();
    expect(allowed('https://api.example.com/search?scope=all')).toBeFalse();
    expect(allowed('https://other.example.com/x?auth=yes')).toBeTrue();
    expect(allowed('https://other.example.com/x?auth=no')).toBeFalse();
  });

  it('a URL with userinfo (a user name or password) is never authorized, whatever the matchers (attacker review)', () => {
    const allowed = createUrlAuthorizer([/^https:\/\/api\.example\.com/, (url) => url.href.startsWith('https://reports.example.com'), 'https://files.example.com', '/api'], base, 'https://app.example.com');
    expect(allowed('https://api.example.com/v1')).toBeTrue();
    expect(allowed('https://api.example.com@evil.test/steal')).withContext('RegExp rule, href with userinfo').toBeFalse();
    expect(allowed('https://reports.example.com:x@evil.test/steal')).withContext('function rule').toBeFalse();
    expect(allowed('https://user@files.example.com/a')).withContext('prefix rule, own host with a user name').toBeFalse();
    expect(allowed('https://:pw@app.example.com/api/a')).withContext('same origin with a password').toBeFalse();
    const sameOrigin = createUrlAuthorizer(null, base, 'https://app.example.com');
    expect(sameOrigin('https://u@app.example.com/api')).toBeFalse();
  });

  it('property: whatever the matchers, a URL carrying userinfo is refused (fast-check)', () => {
    const host = fc.constantFrom('api.example.com', 'app.example.com', 'evil.test');
    fc.assert(
      fc.property(
        fc.constantFrom<UrlMatcher[] | null>(null, ['/api'], [/^https:\/\/api\.example\.com/], [() => true], ['https://api.example.com']),
        fc.stringMatching(/^[a-z0-9.%:]{1,12}$/),
        host,
        fc.constantFrom('', '/', '/api/x', '/a?b#c'),
        (matchers, userinfo, h, path) => {
          const raw = `https://${userinfo}@${h}${path}`;
          let parsed: URL;
          try {
            parsed = new URL(raw);
          } catch {
            return;
          }
          const allowed = createUrlAuthorizer(matchers, base, 'https://app.example.com')(raw);
          expect(allowed).toBe(allowed && !parsed.username && !parsed.password);
          if (parsed.username || parsed.password) expect(allowed).toBeFalse();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('with a base getter, relative URLs are decided against the base of the moment (the cache follows it)', () => {
    let current = 'https://app.example.com/shop/';
    const allowed = createUrlAuthorizer(['/shop/api'], () => current, 'https://app.example.com');
    expect(allowed('api/cart')).toBeTrue();
    expect(allowed('api/cart')).toBeTrue();
    current = 'https://app.example.com/blog/';
    expect(allowed('api/cart')).toBeFalse();
    expect(allowed('https://app.example.com/shop/api/cart')).toBeTrue();
    current = 'https://app.example.com/shop/';
    expect(allowed('api/cart')).toBeTrue();
  });

  describe('ɵcanonicalPath (fast-check)', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_~!$&'()*+,=:@-][A-Za-z0-9._~!$&'()*+,=:@-]{0,7}$/).filter((s) => s !== '.' && s !== '..');
    /** One way to write `/segment` that a normalizing server reads as it. */
    const spell = (seg: string, how: number, at: number) => {
      const i = at % seg.length;
      const encoded = /[\w.~-]/.test(seg[i]) ? `${seg.slice(0, i)}%${seg.charCodeAt(i).toString(16).padStart(2, '0')}${seg.slice(i + 1)}` : seg;
      return [`/${seg}`, `/${encoded}`, `//${seg}`, `%2F${seg}`, `%5c${seg}`, `/${seg};v=1`, `/${seg}%3Bx`, `///${encoded};a=b`][how];
    };

    it('reads every spelling of a path as the plain path: escaped unreserved characters, %2F and %5C, ";" parameters, repeated slashes', () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(segment, fc.nat(7), fc.nat(20)), { minLength: 1, maxLength: 5 }), (parts) => {
          const plain = parts.map(([seg]) => `/${seg}`).join('');
          const spelled = parts.map(([seg, how, at]) => spell(seg, how, at)).join('');
          // %3B (an escaped ';') is not a separator: a segment spelled with it stays another path.
          const expected = parts.map(([seg, how]) => `/${seg}${how === 6 ? '%3Bx' : ''}`).join('');
          // After '/p': a path starting with '//' would be another host.
          expect(ɵcanonicalPath(new URL(`/p${spelled}`, 'https://app.example/').pathname)).withContext(spelled).toBe(`/p${expected}`);
          expect(ɵcanonicalPath(plain)).toBe(plain);
        }),
        { numRuns: 500 },
      );
    });

    it('is idempotent, and leaves no repeated slash, ";" parameter, escaped separator or unreserved character, nor dot segment', () => {
      const piece = fc.oneof(segment, fc.constantFrom('', '.', '..', '%2e', '%2E%2e', '..;', '%2F', '%5C', '%2f..', '%25', '%2%65', '%41', ';x', '%3B', '%7e'));
      fc.assert(
        fc.property(fc.array(piece, { maxLength: 6 }), (pieces) => {
          const { pathname } = new URL(`/p/${pieces.join('/')}`, 'https://app.example/');
          const c = ɵcanonicalPath(pathname);
          if (c === null) return expect(pathname).toMatch(/%|;/);
          expect(ɵcanonicalPath(c)).toBe(c);
          expect(c).not.toMatch(/\/\/|;|%(2[fFeE]|5[cC]|[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|5[fF]|2[dD]|7[eE])/);
          expect(c.split('/').some((s) => s === '.' || s === '..')).toBeFalse();
        }),
        { numRuns: 1000 },
      );
    });

    it('keeps case (paths are case-sensitive) and leaves a path with nothing to normalize as it is', () => {
      expect(ɵcanonicalPath('/api/Reports')).toBe('/api/Reports');
      expect(ɵcanonicalPath('/api//r%65ports;v=1%2F1')).toBe('/api/reports/1');
      expect(ɵcanonicalPath('/api/x/..%2Fadmin')).toBeNull();
      expect(ɵcanonicalPath('/api/reports/..;/admin')).toBeNull();
    });
  });
});
