/**
 * Bytes → base64url without padding (RFC 4648 §5), as in JWTs and PKCE.
 *
 * @example
 * toBase64Url(new Uint8Array([251, 255])); // '-_8'
 */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The base64url SHA-256 of a string's UTF-8 bytes, with WebCrypto: what `X-Replaces-Token` carries
 * (the browser's session endpoint source sends it, the BFF compares it) and what the BFF keys its
 * store with. Rejects where WebCrypto is missing (a page on an insecure origin), so callers decide.
 *
 * @example
 * await sha256Base64Url('abc'); // 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0'
 */
export async function sha256Base64Url(text: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}
