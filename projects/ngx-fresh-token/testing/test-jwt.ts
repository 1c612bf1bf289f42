/**
 * Options of {@link createTestJwt}.
 *
 * @example
 * const options: TestJwtOptions = { expiresInSeconds: -10, nowMs: clock.now() }; // expired 10 s ago
 * const token = createTestJwt(options);
 */
export interface TestJwtOptions {
  /** Lifetime from `nowMs`, in seconds (default 3600); negative for an expired token. */
  expiresInSeconds?: number;
  /** Extra claims; they override `iat`/`exp` when given. */
  claims?: Record<string, unknown>;
  /** Issue time in epoch ms (default `Date.now()`); pass your fake clock's time. */
  nowMs?: number;
}

function base64Url(value: unknown): string {
  const json = JSON.stringify(value);
  const bytes = new TextEncoder().encode(json);
  let binary = '';
  bytes.forEach((b) => (binary += String.fromCharCode(b)));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

let counter = 0;

/**
 * Makes an unsigned JWT (`alg: none`) with `iat`, `exp` and a unique `jti`, for tests only:
 * it has no signature, so no real API accepts it.
 *
 * @example
 * const token = createTestJwt({ expiresInSeconds: 60, claims: { sub: 'alice' } });
 */
export function createTestJwt(options: TestJwtOptions = {}): string {
  const nowMs = options.nowMs ?? Date.now();
  const iat = Math.floor(nowMs / 1000);
  const payload = {
    iat,
    exp: iat + (options.expiresInSeconds ?? 3600),
    jti: `test-${++counter}`,
    ...options.claims,
  };
  return `${base64Url({ alg: 'none', typ: 'JWT' })}.${base64Url(payload)}.`;
}
