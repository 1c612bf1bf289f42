import { createUrlAuthorizer } from './url-matcher';

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
});
