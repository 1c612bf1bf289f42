// Sealing and hashing with WebCrypto only (Node ≥ 20, Deno, Bun, edge runtimes): AES-256-GCM for
// what the store holds, SHA-256 for store keys, HMAC-SHA-256 for index entries, HKDF to turn each secret into keys.
import { sha256Base64Url, toBase64Url } from 'ngx-fresh-token/internal';

export { toBase64Url };
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SALT = encoder.encode('ngx-fresh-token/bff');
const SEAL_VERSION = 'v2';

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

/** base64url SHA-256 of a string: store keys, `X-Replaces-Token` (the one helper of `ngx-fresh-token/internal`). */
export const sha256 = sha256Base64Url;

interface SealKey {
  id: string;
  key: CryptoKey;
  /** HMAC-SHA-256 key for the store's index entries (hashed `sid`/`sub`), from the same secret. */
  indexKey: CryptoKey;
}

/** What {@link Sealer.open} found. */
export type Opened =
  /** Opened and authenticated. */
  | { plaintext: string }
  /**
   * Sealed under a key this process does not hold, by a process that held one this process holds too:
   * a newer secret, mid rolling deploy. Not an answer on the session: try again (503), delete nothing.
   */
  | { newerKey: true }
  /** Not openable: a removed secret, tampering, another place, or not a sealed value at all. */
  | null;

/**
 * Seals and opens strings with AES-256-GCM under `secrets: [current, ...previous]`: the first key
 * seals, every key opens. A sealed value is `v2.<key id>.<ids of every key the sealer held>.<iv>.<ciphertext>`:
 * the list tells a key that was removed (the sealer held none of this process's keys: signed out) from
 * a key newer than this process knows (it held one of ours: a rolling deploy, try again). The header and
 * the associated data (the store key, version and absolute end of a session) are authenticated, so a
 * record moved, re-versioned or extended by someone who can write to the store fails to open.
 */
export interface Sealer {
  seal(plaintext: string, associatedData: string): Promise<string>;
  open(sealed: string, associatedData: string): Promise<Opened>;
  /** `kind:HMAC(value)` under every key held (newest first): what an index entry of `value` may be. */
  indexEntries(kind: string, value: string): Promise<string[]>;
}

const KEY_ID = /^[A-Za-z0-9_-]{8}$/;
/** At most this many key ids are read from a sealed value's header (a sealer holds a few keys). */
const MAX_KEY_IDS = 8;

async function deriveSealKey(secret: string): Promise<SealKey> {
  const base = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey', 'deriveBits']);
  const key = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: SALT, info: encoder.encode('session seal v1') },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
  const indexKey = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: SALT, info: encoder.encode('store index v1') },
    base,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign'],
  );
  const idBits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: SALT, info: encoder.encode('key id v1') }, base, 48);
  return { id: toBase64Url(new Uint8Array(idBits)), key, indexKey };
}

/** Makes the {@link Sealer} of `secrets` (keys are derived once). */
export async function createSealer(secrets: readonly string[]): Promise<Sealer> {
  const keys = await Promise.all(secrets.map(deriveSealKey));
  const byId = new Map(keys.map((k) => [k.id, k] as const));
  const header = `${SEAL_VERSION}.${keys[0].id}.${[...byId.keys()].join('~')}`;
  const aad = (head: string, associatedData: string) => encoder.encode(`${head}\n${associatedData}`);
  return {
    async seal(plaintext, associatedData) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const cipher = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad(header, associatedData) }, keys[0].key, encoder.encode(plaintext));
      return `${header}.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(cipher))}`;
    },
    async open(sealed, associatedData) {
      const parts = typeof sealed === 'string' && sealed.length < 1_000_000 ? sealed.split('.') : [];
      if (parts.length !== 5 || parts[0] !== SEAL_VERSION || !KEY_ID.test(parts[1])) return null;
      const sealerIds = parts[2].split('~');
      if (sealerIds.length > MAX_KEY_IDS || !sealerIds.every((id) => KEY_ID.test(id)) || !sealerIds.includes(parts[1])) return null;
      const key = byId.get(parts[1]);
      if (!key) return sealerIds.some((id) => byId.has(id)) ? { newerKey: true } : null;
      try {
        const plain = await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: fromBase64Url(parts[3]), additionalData: aad(`${parts[0]}.${parts[1]}.${parts[2]}`, associatedData) },
          key.key,
          fromBase64Url(parts[4]),
        );
        return { plaintext: decoder.decode(plain) };
      } catch {
        return null;
      }
    },
    async indexEntries(kind, value) {
      const entries = await Promise.all(
        keys.map(async (k) => `${kind}:${toBase64Url(new Uint8Array(await crypto.subtle.sign('HMAC', k.indexKey, encoder.encode(`${kind}\n${value}`))))}`),
      );
      return [...new Set(entries)];
    },
  };
}
