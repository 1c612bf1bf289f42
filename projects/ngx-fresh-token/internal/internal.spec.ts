import { FreshTokenError, classifyHttpError, effectiveBufferMs, sha256Base64Url, toBase64Url } from './public-api';

describe('ngx-fresh-token/internal', () => {
  it('sha256Base64Url is the base64url SHA-256 of the UTF-8 bytes (the X-Replaces-Token the BFF compares)', async () => {
    expect(await sha256Base64Url('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(await sha256Base64Url('')).toBe('47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU');
    expect(toBase64Url(new Uint8Array([251, 255]))).toBe('-_8');
  });

  it('effectiveBufferMs: min(buffer, half the lifetime); the buffer without a lifetime', () => {
    expect(effectiveBufferMs(30_000, 3_600_000)).toBe(30_000);
    expect(effectiveBufferMs(30_000, 60_000)).toBe(30_000);
    expect(effectiveBufferMs(30_000, 40_000)).toBe(20_000);
    expect(effectiveBufferMs(30_000, 5_000)).toBe(2_500);
    expect(effectiveBufferMs(30_000, -1)).toBe(0);
    expect(effectiveBufferMs(30_000, null)).toBe(30_000);
  });

  it('classifyHttpError reads a code the error carries itself (the BFF\'s own FreshTokenError) as well as one in the body', () => {
    const bffError = Object.assign(new Error('NFT410: refused'), { code: 'NFT410', status: 500 });
    expect(classifyHttpError(bffError, 0)).toEqual(jasmine.objectContaining({ transient: false, status: 500, code: 'NFT410' }));
    expect(classifyHttpError({ status: 503, code: 'NFT403' }, 0)).toEqual(jasmine.objectContaining({ transient: true, code: 'NFT403' }));
    expect(classifyHttpError({ status: 500, code: 'not-a-code' }, 0).code).toBeUndefined();
  });

  it('FreshTokenError: the code in front of the message, the details as fields, nothing else', () => {
    const e = new FreshTokenError('NFT404', 'the store did not answer', { transient: true, status: 503, retryAfterMs: 1_000 });
    expect(e instanceof Error).toBeTrue();
    expect(e.name).toBe('FreshTokenError');
    expect(e.message).toBe('NFT404: the store did not answer');
    expect([e.code, e.transient, e.status, e.retryAfterMs]).toEqual(['NFT404', true, 503, 1_000]);
    expect(new FreshTokenError('NFT101', '').message).toBe('NFT101');
  });
});
