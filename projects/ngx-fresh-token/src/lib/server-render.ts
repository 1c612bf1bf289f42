// Everything ngx-fresh-token does because a page is rendered on the server, in one place (as Angular
// keeps its HTTP transfer cache in transfer_cache.ts): the request's session, the cache headers, the
// Host check, the token-free snapshot, the authenticated bodies handed to the browser, the guard's
// server branch and the render's budget. The server half is one object (`serverHalf`) that the core
// gets from DI (`ɵSERVER_HALF`), whose default is set only behind
// `typeof ngServerMode !== 'undefined' && ngServerMode`: a browser build sets that to `false`, so the
// minifier drops the whole half. The browser half (starting from the snapshot, serving the
// handed-over bodies) comes with `withServerRendering()` only. A browser-only app carries none of it.
import { PlatformLocation } from '@angular/common';
import { HttpEvent, HttpRequest, HttpResponse } from '@angular/common/http';
import { APP_BOOTSTRAP_LISTENER, ApplicationRef, InjectionToken, REQUEST, RESPONSE_INIT, TransferState, inject, type StateKey } from '@angular/core';
import { Observable, of, tap } from 'rxjs';
import type { AuthService } from './auth.service';
import type { RefreshRetryPolicy } from './backoff';
import { TRANSFER_AUTHENTICATED_RESPONSE } from './context';
import { FreshTokenErrorCode, ɵerror } from './errors';
import type { TokenLifetime } from './lifetime';
import { FreshTokenFeature, FreshTokenFeatureKind, ɵfeature, ɵvalidRetryPolicy } from './feature';
import { createUrlAuthorizer, type UrlMatcher } from './url-matcher';
import { ɵOPTIONAL, ɵTOKEN_NAME, ɵonServer } from './config';

// ---------------------------------------------------------------------------------------------
// Public names

/**
 * The browser's session as a server render knows it, with no token in it: provided on the server
 * platform by an integration whose token source can reach the request's session in process
 * (`withSessionEndpoint()` reads it from Angular's `REQUEST_CONTEXT`). `null` (the default) when the
 * render knows no session: the browser, a prerender, or a server without a render context.
 *
 * @example
 * withTokenSource(() => mySource, [withServerRendering(), { provide: FRESH_TOKEN_SERVER_SESSION, useFactory: () => ({ signedIn: true, user: { sub: 'alice' }, origin: 'https://app.example.com' }) }])
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
 * {@link ServerSession}). With a session, the response varies on `Cookie`; signed in, `AuthService.state`
 * says signed in before any token is fetched (and never shows the token: `token` stays `null` in the
 * render), `signedInGuard` lets the route render, the response gets `Cache-Control: private, no-store`,
 * and a token-free snapshot goes into `TransferState` for the browser to start from (with
 * `withServerRendering()` there); signed out, the guard redirects on the server with a private answer.
 *
 * @example
 * const session = inject(FRESH_TOKEN_SERVER_SESSION); // null in the browser
 */
export const FRESH_TOKEN_SERVER_SESSION = /* @__PURE__ */ new InjectionToken<ServerSession | null>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'FRESH_TOKEN_SERVER_SESSION' : '', {
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
 * The `TransferState` key of the {@link SessionSnapshot} a signed-in server render writes (a\n * `withApiToken()` token's snapshot is under `<key>#<name>`).
 *
 * @example
 * transferState.hasKey(FRESH_TOKEN_SESSION_SNAPSHOT_KEY)
 */
// A state key is its string (`makeStateKey()` returns it as is): no call, nothing to import.
export const FRESH_TOKEN_SESSION_SNAPSHOT_KEY = 'ngx-fresh-token:session' as StateKey<SessionSnapshot | null>;

/**
 * How a server render asks its token source, by default: one attempt of at most 3 s. A render waits
 * for the token only so long; when the budget runs out the page renders without the data that needed
 * the token (signed in, if the render knows the session) and the browser takes over after hydration.
 *
 * @example
 * withServerRendering({ retry: { ...DEFAULT_SERVER_RENDER_RETRY, attemptTimeoutMs: 1_500 } })
 */
export const DEFAULT_SERVER_RENDER_RETRY: RefreshRetryPolicy = { maxAttempts: 1, baseDelayMs: 1_000, maxDelayMs: 15_000, maxTotalMs: 3_000, attemptTimeoutMs: 3_000 };

/**
 * Options of {@link withServerRendering}.
 *
 * @example
 * const options: ServerRenderingOptions = { retry: { maxAttempts: 2, attemptTimeoutMs: 1_000 } };
 */
export interface ServerRenderingOptions {
  /**
   * How token acquisition is retried during a server render (merged over
   * {@link DEFAULT_SERVER_RENDER_RETRY}: one attempt of 3 s). `withRefreshRetry()` is the browser's
   * policy; a render never uses it. A configuration error (`NFT410`, `invalid_client`) is never retried.
   */
  retry?: Partial<RefreshRetryPolicy>;
}

/**
 * Turns on server rendering support in both halves of an app rendered on the server (Angular SSR):
 * in the render, `TRANSFER_AUTHENTICATED_RESPONSE` bodies are kept for the browser (making the page
 * `Cache-Control: private, no-store`), and `retry` sets the render's budget; in the browser, the
 * service starts from the render's session snapshot (no flicker to signed out, the guard answers at
 * once) and answers the opted-in requests from the page once each, until the app is first stable,
 * the session changes (sign-out, a new grant, another tab's token) — whichever comes first.
 * `withSessionEndpoint()` includes it. An app that never renders on the server leaves it out and
 * ships none of this code.
 *
 * Whatever the features, every server render has a budget (one attempt of 3 s by default), sends the
 * token only for the configured origin of a session it knows, and keeps its cache headers right.
 *
 * @example
 * provideFreshToken(withTokenSource(mySource), withServerRendering({ retry: { attemptTimeoutMs: 2_000 } }))
 */
export function withServerRendering(options: ServerRenderingOptions = {}): FreshTokenFeature<typeof FreshTokenFeatureKind.ServerRendering> {
  const retry = ɵvalidRetryPolicy({ ...DEFAULT_SERVER_RENDER_RETRY, ...options?.retry }, 'withServerRendering({ retry })');
  return ɵfeature(8 /* ServerRendering */, [
    { provide: ɵSERVER_RENDERING, useFactory: () => createServerRendering(retry) },
    {
      provide: APP_BOOTSTRAP_LISTENER,
      multi: true,
      useFactory: () => {
        const appRef = inject(ApplicationRef);
        const rendering = inject(ɵSERVER_RENDERING);
        // As Angular's own transfer cache: what the render handed over serves hydration only.
        return () => appRef.whenStable().then(() => rendering?.drop());
      },
    },
  ]);
}

// ---------------------------------------------------------------------------------------------
// What the core asks of this file

/** @internal What `withServerRendering()` hands the core through DI. */
export interface ɵServerRendering {
  /** The render's retry policy (the budget). */
  retry: RefreshRetryPolicy;
  /** Browser: how the service starts, from the render's snapshot (read once); `null` without one. */
  start(): ɵSessionStart | null;
  /** Browser: the body the render handed over for `req`, once, while serving lasts; otherwise `null`. */
  handed(req: HttpRequest<unknown>): Observable<HttpEvent<unknown>> | null;
  /** Server: `send`, keeping the body of `req` for the browser when it asks for it; the browser's `send` as is. */
  keeping(req: HttpRequest<unknown>, send: (token: string) => Observable<HttpEvent<unknown>>, auth: AuthService): (token: string) => Observable<HttpEvent<unknown>>;
  /** The session changed, or the app is stable: nothing handed over is served any more. */
  drop(): void;
}

/** @internal The server rendering support of one `provideFreshToken()` (read with `ɵOWN`: `null` without `withServerRendering()` given to it). */
export const ɵSERVER_RENDERING = /* @__PURE__ */ new InjectionToken<ɵServerRendering>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'SERVER_RENDERING' : '');

/**
 * @internal How a service starts when a render knew the session: signed in with no token held here
 * yet (`life.token` is `''`, the times those of the render's token), the user, and whether the token
 * must never show (in the render itself); or known signed out (`life: null`).
 */
export interface ɵSessionStart {
  life: TokenLifetime | null;
  user: Record<string, unknown> | null;
  masked: boolean;
}

/** A session known without a token: a lifetime whose token is `''`, so status and times come out of the usual arithmetic. */
function knownLife(expiresAt: number | null, refreshAt: number | null): TokenLifetime {
  const bufferMs = expiresAt !== null && refreshAt !== null ? Math.max(0, expiresAt - refreshAt) : 0;
  return { token: '', expiresAt, skewMs: 0, bufferMs, refreshBufferMs: bufferMs, minValidityMs: 0 };
}

/** A snapshot read from `TransferState`, checked (the page is data, not code we trust blindly). */
function readSnapshot(value: unknown): SessionSnapshot | null {
  const s = value as SessionSnapshot | null;
  if (typeof s !== 'object' || s === null) return null;
  const time = (t: unknown) => (typeof t === 'number' && Number.isFinite(t) ? t : null);
  return { user: typeof s.user === 'object' && s.user !== null ? { ...s.user } : null, expiresAt: time(s.expiresAt), refreshAt: time(s.refreshAt) };
}

// ---------------------------------------------------------------------------------------------
// Authenticated bodies handed to the browser (TRANSFER_AUTHENTICATED_RESPONSE)

/** What goes into `TransferState` for one request: the body and the status, nothing else. */
interface TransferredBody {
  b: unknown;
  s: number;
}

/** One key for every body a render hands over, so the browser drops them all at once. */
const BODIES_KEY = 'ngx-fresh-token:bodies' as StateKey<Record<string, TransferredBody>>;

/** `key` for this token: as is for the default token, `key#name` for a `withApiToken()` one (in an injection context). */
function keyOf<T>(key: StateKey<T>): StateKey<T> {
  const name = inject(ɵTOKEN_NAME, ɵOPTIONAL);
  return (name ? `${key}#${name}` : key) as StateKey<T>;
}

const wantsTransfer = (req: HttpRequest<unknown>) =>
  req.method === 'GET' && (req.responseType === 'json' || req.responseType === 'text') && req.context.get(TRANSFER_AUTHENTICATED_RESPONSE);

const bodyKey = (req: HttpRequest<unknown>) => `${req.responseType}:${req.urlWithParams}`;

/** Whether `text` holds `secret`, as is or as JSON escapes it (`"` and `\` inside a JSON string). */
function holds(text: string, secret: string | null): boolean {
  return !!secret && (text.includes(secret) || text.includes(JSON.stringify(secret).slice(1, -1)));
}

function createServerRendering(retry: RefreshRetryPolicy): ɵServerRendering {
  const half = ɵonServer() ? inject(ɵSERVER_HALF) : null;
  if (half) return half.rendering(retry, inject(TransferState));
  let bodies: Record<string, TransferredBody> | null = null;
  let snapshot: unknown = null;
  const bodiesKey = keyOf(BODIES_KEY);
  try {
    const state = inject(TransferState, ɵOPTIONAL);
    bodies = state?.get(bodiesKey, null) ?? null;
    snapshot = state?.get(keyOf(FRESH_TOKEN_SESSION_SNAPSHOT_KEY), null);
    state?.remove(bodiesKey);
  } catch {
    // No DOCUMENT, or one that is no page (a plain Node injector, a stub in tests): nothing was handed over.
  }
  return {
    retry,
    start: () => {
      const s = readSnapshot(snapshot);
      snapshot = null;
      return s && { life: knownLife(s.expiresAt, s.refreshAt), user: s.user, masked: false };
    },
    handed: (req) => {
      const key = bodies && wantsTransfer(req) ? bodyKey(req) : null;
      const entry = key ? bodies![key] : undefined;
      if (!entry || typeof entry.s !== 'number') return null;
      delete bodies![key!];
      return of(new HttpResponse({ body: entry.b, status: entry.s, url: req.urlWithParams }));
    },
    keeping: (_req, send) => send,
    drop: () => {
      bodies = null;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The server half: `serverHalf`, reached only through `ɵSERVER_HALF`

/**
 * @internal What only a server render runs. The core asks `ɵSERVER_HALF` for it on the server
 * platform; browser builds get `null` and drop every function below.
 */
export interface ɵServerHalf {
  /** The render's budget, unless `withServerRendering({ retry })` sets another. */
  retry: RefreshRetryPolicy;
  /** How the service of this render starts (see {@link serverStart}). */
  start(auth: AuthService): ɵSessionStart | null;
  /** Which URLs get the token in a render that knows the session (see {@link serverAuthorizer}). */
  authorizer(matchers: readonly UrlMatcher[] | null): ((url: string) => boolean) | null;
  /** What relative URLs resolve against in this render (see {@link serverOrigin}). */
  origin(): string | null | undefined;
  /** `signedInGuard()` in a render (see {@link guardOnServer}). */
  guard<T>(attempted: string, redirect: () => T | true): T | true;
  /** Whether this render knows the request's session (`provideFreshToken()`'s initializer then starts the service). */
  knowsSession(): boolean;
  /** `withServerRendering()` in a render: keeps opted-in bodies for the browser (see {@link serverRendering}). */
  rendering(retry: RefreshRetryPolicy, state: TransferState): ɵServerRendering;
}

const warned = new Set<string>();

/** @internal Forgets which warnings were given (specs: each warning's spec sees it once). */
export function ɵresetWarnings(): void {
  warned.clear();
}

/** @internal A dev-mode warning, once per process: misconfigurations that would otherwise fail silently. */
export function ɵwarnOnce(code: string, message: string): void {
  if (!(typeof ngDevMode === 'undefined' || ngDevMode) || warned.has(code)) return;
  warned.add(code);
  console.warn(`${code}: ${message}`);
}

/**
 * Makes this render's answer private (`Cache-Control: private, no-store`, `Vary: Cookie`) through
 * `RESPONSE_INIT`; `false` (and a dev-mode warning, `NFT109`) when the render has none, so nothing
 * user-specific may go into it.
 */
function privateAnswer(init: ResponseInit | null, why: string): boolean {
  if (!varyOnCookie(init, why)) return false;
  (init!.headers as Headers).set('Cache-Control', 'private, no-store');
  return true;
}

/** Adds `Vary: Cookie` to this render's answer (it depends on the session cookie); `false` without `RESPONSE_INIT`. */
function varyOnCookie(init: ResponseInit | null, why: string): boolean {
  if (!init) {
    ɵwarnOnce(
      FreshTokenErrorCode.MissingResponseInit,
      `a server render needs RESPONSE_INIT to set its cache headers (${why}), and there is none: the render did not come through AngularNodeAppEngine/AngularAppEngine.handle(). ` +
        'To fix the problem, render through them; until then a signed-in page carries no Cache-Control: private, no-store, and no authenticated body is handed to the browser.',
    );
    return false;
  }
  const headers = init.headers instanceof Headers ? init.headers : new Headers(init.headers);
  if (!/(^|,)\s*cookie\s*(,|$)/i.test(headers.get('Vary') ?? '')) headers.append('Vary', 'Cookie');
  (init as { headers?: HeadersInit }).headers = headers;
  return true;
}

/**
 * How the service of this render starts: from the request's session (`FRESH_TOKEN_SERVER_SESSION`),
 * with the cache headers set (every answer with a session varies on `Cookie`; a signed-in one is
 * private, no-store) and, signed in, the token-free snapshot registered for the browser. `null`
 * without a session. Warns once, in dev mode, about a render without `RESPONSE_INIT` and one behind a
 * TLS proxy that Angular does not trust.
 */
function serverStart(auth: AuthService): ɵSessionStart | null {
  const session = inject(FRESH_TOKEN_SERVER_SESSION);
  if (!session) return null;
  const request = inject(REQUEST, ɵOPTIONAL);
  if (request && (typeof ngDevMode === 'undefined' || ngDevMode)) {
    const url = new URL(request.url);
    if (url.protocol === 'http:' && session.origin === `https://${url.host}`) {
      ɵwarnOnce(
        FreshTokenErrorCode.UntrustedProxy,
        `the request came as http://${url.host} but the app's origin is ${session.origin}: behind a TLS proxy Angular does not see the public URL, so no token is ever attached in the render. ` +
          'To fix the problem, set trustProxyHeaders in AngularNodeAppEngine (or your adapter) so the request URL is https://.',
      );
    }
  }
  const init = inject(RESPONSE_INIT, ɵOPTIONAL);
  if (!session.signedIn) {
    varyOnCookie(init, 'Vary: Cookie');
    return { life: null, user: null, masked: true };
  }
  // One user's page must never be kept by a CDN or a shared cache for another.
  privateAnswer(init, 'a signed-in page is private, no-store');
  inject(TransferState).onSerialize(keyOf(FRESH_TOKEN_SESSION_SNAPSHOT_KEY), () => {
    const s = auth.state();
    return s.status === 'signed-out' ? null : { user: auth.sessionUser(), expiresAt: s.expiresAt, refreshAt: s.refreshAt };
  });
  return { life: knownLife(null, null), user: session.user, masked: true };
}

/**
 * The origin relative URLs resolve against in a render that knows the session: the configured
 * origin, never the request's `Host` (the client chooses it); `null` for a render whose request is for
 * another origin (it sends no token at all); `undefined` without a session (the browser's rules apply).
 */
function serverOrigin(): string | null | undefined {
  const session = inject(FRESH_TOKEN_SERVER_SESSION);
  if (!session) return undefined;
  const request = inject(REQUEST, ɵOPTIONAL);
  if (request) {
    try {
      return new URL(request.url).origin === session.origin ? session.origin : null;
    } catch {
      return null;
    }
  }
  return session.origin;
}

/**
 * Which URLs get the token in a render that knows the session: relative URLs resolve as the render
 * sends them — against the page's `<base href>` (else the page's URL), as platform-server's own
 * interceptor resolves them after this one, and as `document.baseURI` does in the browser — on the
 * configured origin ({@link serverOrigin}); `'/'`-style matchers name paths of that origin. A render
 * whose request is for another origin sends no token at all. `null` without a session (the browser's
 * rules apply).
 */
function serverAuthorizer(matchers: readonly UrlMatcher[] | null): ((url: string) => boolean) | null {
  const origin = serverOrigin();
  if (origin === undefined) return null;
  if (!origin) return () => false;
  const root = `${origin}/`;
  const location = inject(PlatformLocation, ɵOPTIONAL);
  const base = () => {
    try {
      // The page's path only: its origin was checked to be the configured one.
      const page = location ? new URL(location.href, root) : null;
      return new URL(location?.getBaseHrefFromDOM() || (page ? page.pathname + page.search : '/'), root).href;
    } catch {
      return root;
    }
  };
  return createUrlAuthorizer(matchers, base, origin);
}

/**
 * `signedInGuard()` in a server render: it calls no token source. A render that knows the session
 * renders a signed-in user and answers a signed-out one with `redirect()` — a private answer that
 * varies on `Cookie`; a render with a request but no session context lets the route render (the
 * browser decides); a render with no request at all (a prerender, the app shell) throws `NFT108`.
 */
function guardOnServer<T>(attempted: string, redirect: () => T | true): T | true {
  const session = inject(FRESH_TOKEN_SERVER_SESSION);
  if (session) {
    if (session.signedIn) return true;
    const answer = redirect();
    if (answer !== true) privateAnswer(inject(RESPONSE_INIT, ɵOPTIONAL), 'a redirect to the login page is private');
    return answer;
  }
  if (!inject(REQUEST, ɵOPTIONAL)) {
    throw ɵerror(
      FreshTokenErrorCode.GuardedRouteWithoutRequest,
      (typeof ngDevMode === 'undefined' || ngDevMode)
        ? `signedInGuard() guards "${attempted}", which is rendered with no request (a prerender or the app shell): that page would be the same for every user. To fix the problem, give the route renderMode: RenderMode.Server (with bff.renderContext() in server.ts) or RenderMode.Client in the server routes.`
        : '',
    );
  }
  // No session context: render, and let the browser decide.
  return true;
}

/**
 * `withServerRendering()` in a render: a `GET` with `TRANSFER_AUTHENTICATED_RESPONSE` sent with the
 * token has its body (JSON or text; never a header) kept for the browser — unless the body holds the
 * access or ID token, raw or as JSON escapes it, and only in a page it makes `private, no-store`
 * (none without `RESPONSE_INIT`).
 */
function serverRendering(retry: RefreshRetryPolicy, state: TransferState): ɵServerRendering {
  const init = inject(RESPONSE_INIT, ɵOPTIONAL);
  const bodiesKey = keyOf(BODIES_KEY);
  return {
    retry,
    start: () => null,
    handed: () => null,
    drop: () => undefined,
    keeping: (req, send, auth) =>
      wantsTransfer(req)
        ? (token) =>
            send(token).pipe(
              tap((event) => {
                if (!(event instanceof HttpResponse) || !event.ok) return;
                let text: string | undefined;
                try {
                  text = typeof event.body === 'string' ? event.body : JSON.stringify(event.body);
                } catch {
                  return;
                }
                if (text === undefined || auth.ɵsecrets(token).some((secret) => holds(text!, secret))) return;
                // The body is one user's data: kept only in a page no shared cache may keep.
                if (!privateAnswer(init, 'TRANSFER_AUTHENTICATED_RESPONSE')) return;
                state.set(bodiesKey, { ...state.get(bodiesKey, null), [bodyKey(req)]: { b: event.body, s: event.status } });
              }),
            )
        : send,
  };
}

/** @internal The server half itself: what `ɵSERVER_HALF` gives in server builds (specs provide it by hand). */
export const ɵserverHalf: ɵServerHalf = {
  retry: DEFAULT_SERVER_RENDER_RETRY,
  start: serverStart,
  authorizer: serverAuthorizer,
  origin: serverOrigin,
  guard: guardOnServer,
  knowsSession: () => inject(FRESH_TOKEN_SERVER_SESSION) !== null,
  rendering: serverRendering,
};

/**
 * @internal The server half on the server platform of a server build (`ngServerMode`), else `null`:
 * browser builds replace `ngServerMode` by `false`, and the minifier drops `ɵserverHalf` with all it uses.
 */
export const ɵSERVER_HALF = /* @__PURE__ */ new InjectionToken<ɵServerHalf | null>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'SERVER_HALF' : '', {
  providedIn: 'root',
  factory: () => (typeof ngServerMode !== 'undefined' && ngServerMode && ɵonServer() ? ɵserverHalf : null),
});
