// Sealing and hashing with WebCrypto only (Node ≥ 20, Deno, Bun, edge runtimes): AES-256-GCM for
// what the store holds, SHA-256 for store keys and index entries, HKDF to turn each secret into a key.
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SALT = encoder.encode('ngx-fresh-token/bff');
const SEAL_VERSION = 'v1';

/** Bytes → base64url without padding. */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** base64url (with or without padding) → bytes; throws on anything else. */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) throw new Error('not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** `n` random bytes as base64url (a session id of 32 bytes carries 256 bits). */
export function randomId(bytes = 32): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** base64url SHA-256 of a string: store keys, index entries, `X-Replaces-Token`. */
export async function sha256(text: string): Promise<string> {
  return toBase64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text))));
}

interface SealKey {
  id: string;
  key: CryptoKey;
}

/**
 * Seals and opens strings with AES-256-GCM under `secrets: [current, ...previous]`: the first key
 * seals, every key opens (found by the key id written in front of the ciphertext). The associated
 * data binds a ciphertext to its place (the store key), so a record moved under another key fails to open.
 */
export interface Sealer {
  seal(plaintext: string, associatedData: string): Promise<string>;
  /** The plaintext, or `null` when no current key opens it (a removed key, tampering, another place). */
  open(sealed: string, associatedData: string): Promise<string | null>;
}

async function deriveSealKey(secret: string): Promise<SealKey> {
  const base = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey', 'deriveBits']);
  const key = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: SALT, info: encoder.encode('session seal v1') },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
  const idBits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: SALT, info: encoder.encode('key id v1') }, base, 48);
  return { id: toBase64Url(new Uint8Array(idBits)), key };
}

/** Makes the {@link Sealer} of `secrets` (keys are derived once). */
export async function createSealer(secrets: readonly string[]): Promise<Sealer> {
  const keys = await Promise.all(secrets.map(deriveSealKey));
  const byId = new Map(keys.map((k) => [k.id, k] as const));
  return {
    async seal(plaintext, associatedData) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const cipher = await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: encoder.encode(associatedData) },
        keys[0].key,
        encoder.encode(plaintext),
      );
      return `${SEAL_VERSION}.${keys[0].id}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(cipher))}`;
    },
    async open(sealed, associatedData) {
      const parts = typeof sealed === 'string' ? sealed.split('.') : [];
      if (parts.length !== 4 || parts[0] !== SEAL_VERSION) return null;
      const key = byId.get(parts[1]);
      if (!key) return null;
      try {
        const plain = await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: fromBase64Url(parts[2]), additionalData: encoder.encode(associatedData) },
          key.key,
          fromBase64Url(parts[3]),
        );
        return decoder.decode(plain);
      } catch {
        return null;
      }
    },
  };
}
