import fc from 'fast-check';
import { UrlMatcher, createUrlAuthorizer } from './url-matcher';

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
});
