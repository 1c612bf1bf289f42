// Where the DPoP key pair lives: IndexedDB of the app's origin, one record per token name. The private
// key is a non-extractable CryptoKey: IndexedDB stores the key object itself (structured clone), so no
// script — this one included — can ever read its bytes. Tabs share the record, reloads keep it.
import { toBase64Url } from 'ngx-fresh-token/internal';

/** One stored key pair; `id` tells this key from a later one under the same name (a sign-out in another tab). */
export interface ɵStoredDpopKey {
  id: string;
  keyPair: CryptoKeyPair;
}

const STORE = 'keys';

/** @internal Whether this browser has what a stored, non-extractable key needs. */
export function ɵkeyStoreSupported(): boolean {
  return typeof indexedDB !== 'undefined' && typeof crypto !== 'undefined' && !!crypto.subtle;
}

function open(database: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(database, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('blocked'));
  });
}

/** Runs `body` in one read-write transaction of the key store; resolves with what `body` settled once the transaction completed. */
async function transaction<T>(database: string, body: (store: IDBObjectStore, settle: (value: T) => void) => void): Promise<T> {
  const db = await open(database);
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, 'readwrite');
      let value: T;
      tx.oncomplete = () => resolve(value);
      tx.onerror = tx.onabort = () => reject(tx.error ?? new Error('aborted'));
      body(tx.objectStore(STORE), (v) => (value = v));
    });
  } finally {
    db.close();
  }
}

/**
 * @internal The key pair stored under `name`, or a new one (P-256, private key non-extractable) stored
 * now. The read and the write are one read-write transaction — IndexedDB runs those one at a time — so
 * two tabs that start together end up with the same key.
 */
export async function ɵloadOrCreateKey(database: string, name: string): Promise<ɵStoredDpopKey> {
  const fresh: ɵStoredDpopKey = {
    id: randomId(),
    keyPair: (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])) as CryptoKeyPair,
  };
  return transaction<ɵStoredDpopKey>(database, (store, settle) => {
    const read = store.get(name);
    read.onsuccess = () => {
      const stored = read.result as ɵStoredDpopKey | undefined;
      if (stored?.keyPair?.privateKey && stored.keyPair.publicKey) return settle(stored);
      store.put(fresh, name);
      settle(fresh);
    };
  });
}

/** @internal Deletes the key stored under `name` — only if it is still the key `id` when one is given (a newer key of another tab's sign-in stays). */
export function ɵdeleteKey(database: string, name: string, id?: string): Promise<void> {
  return transaction<void>(database, (store, settle) => {
    const read = store.get(name);
    read.onsuccess = () => {
      const stored = read.result as ɵStoredDpopKey | undefined;
      if (stored && (id === undefined || stored.id === id)) store.delete(name);
      settle(undefined);
    };
  });
}

/** @internal A random id (base64url of 16 random bytes): proof `jti`s and key ids. */
export function randomId(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
}
