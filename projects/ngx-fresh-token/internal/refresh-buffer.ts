/**
 * The one rule for tokens that live shorter than twice the refresh buffer, used by the core (when a
 * token is refreshed), the BFF (when a cached token is handed out again) and AppSync Events (when a
 * connection is renewed): renew at `bufferMs` before expiry, but never earlier than half the
 * token's lifetime — `min(bufferMs, lifetimeMs / 2)` — so a source whose tokens live shorter than
 * the buffer causes one renewal per half-life, not one per request. `lifetimeMs` is the time the
 * token had left when it arrived (`exp − iat` for a just-issued JWT); `null` (unknown, or an
 * opaque token that never expires) keeps the buffer.
 *
 * @example
 * effectiveBufferMs(30_000, 3_600_000); // 30 000
 * effectiveBufferMs(30_000, 40_000);    // 20 000
 * effectiveBufferMs(30_000, null);      // 30 000
 */
export function effectiveBufferMs(bufferMs: number, lifetimeMs: number | null): number {
  return lifetimeMs === null ? bufferMs : Math.min(bufferMs, Math.max(0, lifetimeMs) / 2);
}
