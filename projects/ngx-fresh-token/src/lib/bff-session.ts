// Proxy-only mode (`withBffSession()`): the browser holds no token at all — every API call goes
// through the BFF's proxy (`withBffProxy()`) — so AuthService tracks the SESSION instead: signed in or
// out, its user, and when it ends. The session is the one behind the BFF's http-only cookie; its
// state comes from `GET /session/user` and from what proxied calls answer. Everything here comes into
// an app through withBffSession() only.
import { HttpBackend, HttpClient, HttpErrorResponse, HttpHeaders } from '@angular/common/http';
import { Injector, inject } from '@angular/core';
import { AuthService } from './auth.service';
import { BFF_CSRF_HEADER, ɵPROXIED_SESSION, type ɵProxiedSession } from './bff-proxy';
import { FRESH_TOKEN_CLOCK } from './clock';
import { ɵFRESH_TOKEN_SOURCE, ɵonServer } from './config';
import { ɵerror } from './errors';
import { FreshTokenFeature, FreshTokenFeatureKind, ɵfeature } from './feature';
import type { SignOutRequest, TokenGrant, TokenSource } from './token';

/**
 * Options of {@link withBffSession}.
 *
 * @example
 * const options: BffSessionOptions = { url: '/bff/session/user', signOutUrl: '/bff/auth/logout' };
 */
export interface BffSessionOptions {
  /**
   * The BFF's session route (default `/session/user`, `createBff()`'s): `GET` answers
   * `{ user, expiresAt, expiresIn?, idleMs? }` for a session, 401 without one.
   */
  url?: string;
  /** Where `auth.signOut()` POSTs (with `X-CSRF: 1`) to end the session and clear its cookie (default `/auth/logout`, `createBff()`'s); `null`: nowhere. */
  signOutUrl?: string | null;
}

/** The session's answer as the core's grant: no token (`''`, allowed for this source only), the end of the session as its expiry. */
type SessionGrant = TokenGrant & { ɵsession: true };

/** The session of a proxy-only app: a {@link TokenSource} whose grants hold no token, told of every proxied call. */
class BffSession implements TokenSource, ɵProxiedSession {
  readonly #http = new HttpClient(inject(HttpBackend));
  readonly #clock = inject(FRESH_TOKEN_CLOCK);
  readonly #injector = inject(Injector);
  readonly #onServer = ɵonServer();
  readonly #url: string;
  readonly #signOutUrl: string | null;
  /** The absolute end of the session on the local clock, and its idle window; `null` when the BFF did not say. */
  #endsAt: number | null = null;
  #idleMs: number | null = null;
  /** The end of the session last handed to the service (local epoch ms). */
  #end: number | null = null;
  /** Whether the last answer was a session: a 401 after one means it ended (`NFT202`), not "never signed in". */
  #signedIn = false;

  constructor(options: BffSessionOptions) {
    this.#url = options.url ?? '/session/user';
    this.#signOutUrl = options.signOutUrl === undefined ? '/auth/logout' : options.signOutUrl;
  }

  getToken(): Promise<TokenGrant | null> {
    // A server render has no browser cookie at hand: it knows no session (the browser loads it).
    if (this.#onServer) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.#http
        .get(this.#url, { headers: new HttpHeaders({ Accept: 'application/json', [BFF_CSRF_HEADER]: '1' }), observe: 'response', responseType: 'text' })
        .subscribe({
          next: (response) => {
            try {
              resolve(this.#read(response.body));
            } catch (err) {
              reject(err);
            }
          },
          error: (err: unknown) => {
            if (!(err instanceof HttpErrorResponse && err.status === 401)) return reject(err);
            const ended = this.#signedIn;
            this.#signedIn = false;
            ended ? reject(this.#ended()) : resolve(null);
          },
        });
    });
  }

  async signOut(request?: SignOutRequest): Promise<void> {
    this.#signedIn = false;
    // Only an explicit sign-out ends the server's session; a session that ended is gone there already.
    if (request?.error || !this.#signOutUrl || this.#onServer) return;
    await new Promise<unknown>((resolve, reject) =>
      this.#http.post(this.#signOutUrl!, null, { headers: new HttpHeaders({ [BFF_CSRF_HEADER]: '1' }), responseType: 'text' }).subscribe({ complete: () => resolve(null), error: reject }),
    );
  }

  used(): void {
    // The BFF slid the session's idle end when it read it for this call: it ends `idleMs` from now, or at its absolute end.
    const auth = this.#auth();
    if (this.#idleMs === null || !auth.ɵknownSignedIn()) return;
    const now = this.#clock.now();
    const end = Math.min(now + this.#idleMs, this.#endsAt ?? Infinity);
    // One state change a second at most, however many calls answer; never an end in the past (the caller's answer stands).
    if (end <= now || (this.#end !== null && end - this.#end < 1_000)) return;
    auth.setGrant(this.#grant(end, auth.sessionUser()));
  }

  ended(): void {
    const auth = this.#auth();
    // Only a session this tab holds ends: a 401 while it loads, or after it ended, is the load's to tell.
    if (!auth.ɵknownSignedIn()) return;
    this.#signedIn = false;
    auth.ɵexpire(this.#ended());
  }

  /** The service, when first needed (it injects this source, so not in the constructor). */
  #auth(): AuthService {
    return this.#injector.get(AuthService);
  }

  #ended() {
    return ɵerror('NFT202', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The BFF session ended (HTTP 401). Sign in again.' : '', { status: 401 });
  }

  /** The grant of a `/session/user` answer; `NFT203` for anything but `{ user: {...}, expiresAt?, expiresIn?, idleMs? }`. */
  #read(text: string | null): TokenGrant {
    let body: Record<string, unknown> | null = null;
    try {
      body = JSON.parse(text ?? '');
    } catch {
      // not JSON: refused below
    }
    const user = body?.['user'];
    if (typeof body !== 'object' || !body || typeof user !== 'object' || !user || Array.isArray(user)) {
      throw ɵerror('NFT203', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'The BFF session route did not answer a JSON object { user: {...}, expiresAt?, expiresIn?, idleMs? }.' : '');
    }
    const now = this.#clock.now();
    const number = (name: string) => (typeof body[name] === 'number' && Number.isFinite(body[name]) && (body[name] as number) >= 0 ? (body[name] as number) : null);
    // Relative times first: a device clock that is off would misplace the server's epoch times.
    const expiresIn = number('expiresIn');
    this.#endsAt = expiresIn !== null ? now + expiresIn * 1000 : number('expiresAt');
    this.#idleMs = number('idleMs') || null;
    this.#signedIn = true;
    return this.#grant(Math.min(this.#endsAt ?? Infinity, this.#idleMs === null ? Infinity : now + this.#idleMs), user as Record<string, unknown>);
  }

  #grant(end: number, user: Record<string, unknown> | null): SessionGrant {
    this.#end = end === Infinity ? null : end;
    return { accessToken: '', ɵsession: true, user, ...(this.#end === null ? {} : { expiresAt: this.#end }) };
  }
}

/**
 * Proxy-only mode: the session behind the backend-for-frontend's cookie as the app's sign-in state, with
 * **no token in the browser** — every API call goes through the BFF's proxy ({@link withBffProxy}), which
 * attaches the token on the server (RFC 10017 §6.1). Use it in place of a token source.
 *
 * {@link AuthService} then tracks the session: `state().status` is `fresh`/`expiring`/`expired` by the
 * session's end and `signed-out` without one, `state().expiresAt` is when the session ends — its idle
 * end (`idleMs` after the last successful proxied call or session read) or its absolute end, whichever
 * comes first, as `GET /session/user` says — `sessionUser()` is its user, and `state().token`,
 * `token$` and `getValidToken()` are always `null`. The session is read once at start, again when asked
 * after it should have ended (`getValidToken()`, `signedInGuard()`) and on every `refresh()`; time alone reads
 * nothing (`withAutoRefresh()` has no effect: a timed read would keep an idle session alive). A 401 from the
 * session route or the proxy ends it: `signed-out`, a `session-expired` event, no retry. `signOut()` POSTs
 * `signOutUrl`. `signedInGuard()` and `withCrossTabSync()` (every tab signs out, or sees the session end) work
 * as with tokens. In a server render it knows no session and makes no call: the browser loads it.
 *
 * Throws `NFT115` for a `url` or `signOutUrl` that is not a path on the app's origin.
 *
 * @example
 * provideFreshToken(withBffSession(), withBffProxy('/api/orders', '/api/catalog'), withCrossTabSync())
 */
export function withBffSession(options: BffSessionOptions = {}): FreshTokenFeature<typeof FreshTokenFeatureKind.TokenSource> {
  const { url, signOutUrl } = options ?? {};
  const path = (value: unknown) => typeof value === 'string' && /^\/(?![/\\])/.test(value);
  if ((url !== undefined && !path(url)) || (signOutUrl != null && !path(signOutUrl))) {
    throw ɵerror('NFT115', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withBffSession() takes { url?, signOutUrl? } as paths on the app origin, like { url: "/session/user", signOutUrl: "/auth/logout" } (signOutUrl: null for none).' : '');
  }
  return ɵfeature(0 /* TokenSource */, [
    { provide: BffSession, useFactory: () => new BffSession({ url, signOutUrl }) },
    { provide: ɵFRESH_TOKEN_SOURCE, useExisting: BffSession },
    { provide: ɵPROXIED_SESSION, useExisting: BffSession },
  ]);
}
