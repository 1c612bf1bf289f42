import { InjectionToken, makeStateKey } from '@angular/core';

/**
 * The browser's session as a server render knows it, with no token in it: provided on the server
 * platform by an integration whose token source can reach the request's session in process
 * (`withSessionEndpoint()` reads it from Angular's `REQUEST_CONTEXT`). `null` (the default) when the
 * render knows no session: the browser, a prerender, or a server without a render context.
 *
 * @example
 * withTokenSource(() => mySource, [{ provide: FRESH_TOKEN_SERVER_SESSION, useFactory: () => ({ signedIn: true, user: { sub: 'alice' }, origin: 'https://app.example.com' }) }])
 */
export interface ServerSession {
  /** Whether the request being rendered has a signed-in session. */
  signedIn: boolean;
  /** The user's claims that may go into the page (never a token); `null` when signed out. */
  user: Record<string, unknown> | null;
  /**
   * The app's configured origin (`https://app.example.com`), not the request's `Host`: relative URLs
   * in the render resolve against it, and a render whose request is for another host sends no token.
   */
  origin: string;
}

/**
 * Where the core learns, on the server platform, which session the render serves (see
 * {@link ServerSession}). With a signed-in session: `AuthService.state` says signed in before any
 * token is fetched (and never shows the token: `token` stays `null` in the render), `signedInGuard`
 * lets the route render, the response gets `Cache-Control: private, no-store`, and a token-free
 * snapshot goes into `TransferState` for the browser to start from. With a signed-out one the guard
 * redirects on the server.
 *
 * @example
 * const session = inject(FRESH_TOKEN_SERVER_SESSION); // null in the browser
 */
export const FRESH_TOKEN_SERVER_SESSION = new InjectionToken<ServerSession | null>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'FRESH_TOKEN_SERVER_SESSION' : '', {
  providedIn: 'root',
  factory: () => null,
});

/**
 * What a server render hands to the browser in `TransferState` (key {@link FRESH_TOKEN_SESSION_SNAPSHOT_KEY}):
 * that the page was rendered signed in, with only the allowed claims and the times of the token the
 * render held. Never a token.
 *
 * @example
 * const snapshot = inject(TransferState).get(FRESH_TOKEN_SESSION_SNAPSHOT_KEY, null);
 */
export interface SessionSnapshot {
  /** The user's allowed claims. */
  user: Record<string, unknown> | null;
  /** Expiry of the access token the render held (local epoch ms of the server), or `null` when it held none. */
  expiresAt: number | null;
  /** When that token's refresh starts (`expiresAt` − buffer), or `null`. */
  refreshAt: number | null;
}

/**
 * The `TransferState` key of the {@link SessionSnapshot} a signed-in server render writes.
 *
 * @example
 * transferState.hasKey(FRESH_TOKEN_SESSION_SNAPSHOT_KEY)
 */
export const FRESH_TOKEN_SESSION_SNAPSHOT_KEY = makeStateKey<SessionSnapshot | null>('ngx-fresh-token:session');

/** A snapshot read from `TransferState`, checked (the page is data, not code we trust blindly). */
export function ɵreadSnapshot(value: unknown): SessionSnapshot | null {
  const s = value as SessionSnapshot | null;
  if (typeof s !== 'object' || s === null) return null;
  const time = (t: unknown) => (typeof t === 'number' && Number.isFinite(t) ? t : null);
  return { user: typeof s.user === 'object' && s.user !== null ? { ...s.user } : null, expiresAt: time(s.expiresAt), refreshAt: time(s.refreshAt) };
}
