import { TestBed } from '@angular/core/testing';
import { AuthService } from './auth.service';
import { FreshTokenError, FreshTokenErrorCode } from './errors';
import {
  provideFreshToken,
  withAuthHeader,
  withAuthorizedUrls,
  withRefreshBuffer,
  withRefreshRetry,
  withTokenSource,
} from './provider';

const source = { getToken: async () => null };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof FreshTokenError ? e.code : `not a FreshTokenError: ${String(e)}`;
  }
  return undefined;
}

describe('provideFreshToken() configuration errors', () => {
  it('NFT101 without a token source', () => {
    expect(codeOf(() => provideFreshToken())).toBe(FreshTokenErrorCode.NoTokenSource);
    expect(codeOf(() => provideFreshToken(withRefreshBuffer(1_000)))).toBe('NFT101');
  });

  it('NFT101 when a source factory returns something without getToken()', () => {
    TestBed.configureTestingModule({ providers: [provideFreshToken(withTokenSource(() => ({}) as never))] });
    expect(codeOf(() => TestBed.inject(AuthService))).toBe('NFT101');
  });

  it('NFT102 for two token sources or any feature given twice', () => {
    expect(codeOf(() => provideFreshToken(withTokenSource(source), withTokenSource(source)))).toBe(
      FreshTokenErrorCode.DuplicateFeature,
    );
    expect(codeOf(() => provideFreshToken(withTokenSource(source), withRefreshBuffer(1), withRefreshBuffer(2)))).toBe('NFT102');
  });

  it('NFT103 for a negative or non-finite buffer', () => {
    expect(codeOf(() => withRefreshBuffer(-1))).toBe(FreshTokenErrorCode.InvalidRefreshBuffer);
    expect(codeOf(() => withRefreshBuffer(Number.NaN))).toBe('NFT103');
    expect(codeOf(() => withRefreshBuffer(Infinity))).toBe('NFT103');
    expect(codeOf(() => withRefreshBuffer(0))).toBeUndefined();
  });

  it('NFT104 for authorized-URL matchers that are not URLs, paths, RegExps or functions', () => {
    for (const bad of ['api.example.com', '//evil.test', 'ftp://x.test', 'https://user:pw@x.test', 'https://x.test/?q=1', 42]) {
      expect(codeOf(() => withAuthorizedUrls(bad as string))).withContext(String(bad)).toBe(FreshTokenErrorCode.InvalidAuthorizedUrl);
    }
    expect(codeOf(() => withAuthorizedUrls())).toBe('NFT104');
    expect(codeOf(() => withAuthorizedUrls('/', '/api', 'https://api.example.com/v1', /x/, () => true))).toBeUndefined();
  });

  it('NFT105 for unusable options', () => {
    expect(codeOf(() => withTokenSource({} as never))).toBe(FreshTokenErrorCode.InvalidOption);
    expect(codeOf(() => withAuthHeader('Authorization' as never))).toBe('NFT105');
    expect(codeOf(() => withRefreshRetry({ maxAttempts: 0 }))).toBe('NFT105');
    expect(codeOf(() => withRefreshRetry({ baseDelayMs: -5 }))).toBe('NFT105');
    expect(codeOf(() => withRefreshRetry({ attemptTimeoutMs: 0 }))).toBe('NFT105');
  });

  it('explains how to fix the problem in dev mode', () => {
    try {
      provideFreshToken();
      fail('expected an error');
    } catch (e) {
      expect((e as Error).message).toContain('NFT101: No TokenSource configured. To fix the problem, add withTokenSource(');
    }
  });
});
