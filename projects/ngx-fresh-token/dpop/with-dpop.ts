// withDpop(): tokens the browser holds, bound to a key the browser holds (RFC 9449). One binding per
// token (the default one, each withApiToken() name): its key pair in IndexedDB, its nonces per origin,
// the proofs of every request that carries the token and of its source's token requests.
import { DOCUMENT } from '@angular/common';
import { HttpErrorResponse, HttpEventType } from '@angular/common/http';
import type { HttpEvent, HttpHandlerFn, HttpRequest } from '@angular/common/http';
import { DestroyRef, PLATFORM_ID, inject, provideEnvironmentInitializer } from '@angular/core';
import type { Provider } from '@angular/core';
import { AuthService, FRESH_TOKEN_BINDING, FRESH_TOKEN_CLOCK, FreshTokenError, injectAuth, injectTokenName, withTokenBinding } from 'ngx-fresh-token';
import type { FreshTokenClock, FreshTokenFeature, FreshTokenFeatureKind, TokenBinding } from 'ngx-fresh-token';
import { Observable, catchError, from, switchMap, tap, throwError } from 'rxjs';
import type { JWK } from 'jose';
import { calculateJwkThumbprint } from 'jose';
import { isUsableDpopNonce } from 'ngx-fresh-token/internal';
import { DpopErrorCode } from './errors';
import { ɵStoredDpopKey, ɵdeleteKey, ɵkeyStoreSupported, ɵloadOrCreateKey } from './key-store';
import { ɵath, ɵhtu, ɵpublicJwk, ɵsignProof } from './proof';

/**
 * Options of {@link withDpop}.
 *
 * @example
 * const options: DpopOptions = { unsupported: 'bearer' };
 */
export interface DpopOptions {
  /**
   * What happens where there can be no key — no WebCrypto (an insecure origin), no IndexedDB (some
   * private modes), or a key that cannot be created or loaded: `'error'` (default) fails every request
   * that would carry the token, and the source's token requests, with `FreshTokenError` `NFT701`;
   * `'bearer'` sends token requests without a proof (the IdP then issues bearer tokens) and sends the
   * tokens issued to those requests as `Authorization: Bearer`, which only an API that also accepts bearer
   * tokens will take. Only such tokens go as bearer (and every token where this origin can hold no key at
   * all: no WebCrypto or no IndexedDB): a token that may be DPoP-bound — obtained with a proof, or adopted
   * from another tab — is never sent as bearer; when its key cannot be loaded the request fails with
   * `NFT701` and the next one tries the key again. A custom source makes its token requests with
   * {@link DpopClient.fetch} (or through the core's `FRESH_TOKEN_BINDING`) so that its bearer tokens are known.
   */
  unsupported?: 'error' | 'bearer';
  /** The IndexedDB database of the keys (default `ngx-fresh-token.dpop`); one record per token name in it. */
  databaseName?: string;
}

/**
 * Default IndexedDB database of {@link withDpop}'s keys.
 *
 * @example
 * indexedDB.deleteDatabase(DEFAULT_DPOP_DATABASE);
 */
export const DEFAULT_DPOP_DATABASE = 'ngx-fresh-token.dpop';

/**
 * A token's DPoP key, for code that sends the token itself (after `getValidToken()`), for the login's
 * code exchange, and for custom token sources. Get it with {@link injectDpop}.
 *
 * @example
 * const dpop = injectDpop();
 * const response = await fetch(url, { headers: await dpop.headers('GET', url) });
 */
export interface DpopClient {
  /**
   * A fresh proof for one request (`htm`, `htu` without query or fragment, `iat`, a unique `jti`, the
   * origin's last nonce, and `ath` when `accessToken` is given); `null` when the browser has no key
   * and `withDpop({ unsupported: 'bearer' })` was chosen. Throws `NFT701` without a key otherwise.
   */
  proof(method: string, url: string, accessToken?: string | null): Promise<string | null>;
  /**
   * The headers for one request with the token: `Authorization: DPoP <token>` and `DPoP: <proof>` (a
   * valid token, refreshed first if needed); `{}` when signed out; `Authorization: Bearer` in the
   * bearer fallback.
   */
  headers(method: string, url: string): Promise<Record<string, string>>;
  /**
   * `fetch` with a proof (and `Authorization: DPoP <accessToken>` when `init.accessToken` is given),
   * retried once with the server's nonce when it answers `use_dpop_nonce` (a token endpoint's 400 or an
   * API's 401) — except a `ReadableStream` body, which cannot be sent twice: that answer comes back as it
   * is; nonces are remembered per origin (of the URL that answered). For token requests (the login's code exchange) and
   * custom sources; `HttpClient` requests get all this from `freshTokenInterceptor`. A token request (no
   * `accessToken`) sent with a proof whose successful answer issues a token that is not `DPoP`-bound
   * (`token_type` absent or other than `DPoP`) rejects with `NFT703` — any answer whose body parses as a
   * JSON object with an `access_token`, whatever its `Content-Type`.
   */
  fetch(input: string | URL, init?: RequestInit & { accessToken?: string | null }): Promise<Response>;
  /** The JWK SHA-256 thumbprint of the public key (the authorization request's `dpop_jkt`); `null` without a key in the bearer fallback. */
  thumbprint(): Promise<string | null>;
}

/** Services of a token whose binding is a {@link DpopBinding}: how `injectDpop(name)` finds a named token's. */
const BINDINGS = new WeakMap<AuthService, DpopClient>();
/** Every client made here (the browser's and the server's): what `injectDpop()` accepts as a token's binding. */
const isClient = (binding: unknown): binding is DpopClient => binding instanceof DpopBinding || (typeof binding === 'object' && binding !== null && SERVER_CLIENTS.has(binding));
const SERVER_CLIENTS = new WeakSet<object>();

type Nonce = { nonce: string | null; fresh: boolean };

/** Whether a server's `DPoP-Nonce` may go into proofs (RFC 9449 syntax, ≤ 1 KB: the rule the BFF follows too). */
const isUsableNonce = isUsableDpopNonce;

/** A body as JSON: parsed already, or text parsed here; `null` for text that is not JSON. */
function jsonOf(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body);
  } catch {
    return null;
  }
}

/**
 * The DPoP error of an answer (RFC 9449 §7.1, §8): an API's 401 with `WWW-Authenticate: DPoP error="…"`, a
 * token endpoint's 400 `{ "error": "…" }` — `use_dpop_nonce` (send the nonce) or `invalid_dpop_proof`; `null` otherwise.
 */
function dpopError(status: number, header: (name: string) => string | null, body: unknown): 'use_dpop_nonce' | 'invalid_dpop_proof' | null {
  let error: unknown;
  if (status === 401) {
    error = /\berror\s*=\s*"?(use_dpop_nonce|invalid_dpop_proof)\b/i.exec(header('WWW-Authenticate') ?? '')?.[1]?.toLowerCase();
  } else if (status === 400) {
    const parsed = jsonOf(body);
    error = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
  }
  return error === 'use_dpop_nonce' || error === 'invalid_dpop_proof' ? error : null;
}

/** Whether an answer is "use this nonce" (see {@link dpopError}). */
const isNonceError = (status: number, header: (name: string) => string | null, body: unknown) => dpopError(status, header, body) === 'use_dpop_nonce';

/** A server clock this close to the device's (ms) is the device's: `Date` has 1 s resolution, plus latency. */
const CLOCK_TOLERANCE_MS = 2_000;

/** `NFT704`: the token endpoint refused the proof (`invalid_dpop_proof`, or `use_dpop_nonce` again) after the one retry there is. */
const proofRejected = (status: number) =>
  new FreshTokenError(
    DpopErrorCode.ProofRejected,
    typeof ngDevMode === 'undefined' || ngDevMode
      ? 'The token endpoint refused the DPoP proof (invalid_dpop_proof, or use_dpop_nonce again), also after one retry with its clock or nonce. The session and its key are kept; the next refresh tries again. Check the device clock, that the server exposes the Date and DPoP-Nonce headers (Access-Control-Expose-Headers), and that its nonces are short and stable.'
      : '',
    { transient: true, status },
  );

/** `NFT703`: a token request that carried a proof got a token that is not bound. */
const unbound = () =>
  new FreshTokenError(
    DpopErrorCode.UnboundToken,
    typeof ngDevMode === 'undefined' || ngDevMode
      ? 'The token endpoint issued a token that is not DPoP-bound (token_type is not "DPoP"): it ignored the proof, or the login\'s code exchange sent none (make it with injectDpop().fetch()). Enable DPoP for this client at the authorization server.'
      : '',
  );

/** The access token a token endpoint's answer (JSON, as text or parsed) issued, and its `token_type`; `null` when it is no token answer. */
function issuedToken(body: unknown): { accessToken: string; tokenType: unknown } | null {
  const answer = jsonOf(body) as { access_token?: unknown; token_type?: unknown } | null;
  return typeof answer === 'object' && answer !== null && typeof answer.access_token === 'string' && answer.access_token !== ''
    ? { accessToken: answer.access_token, tokenType: answer.token_type }
    : null;
}

/** Whether a token endpoint's answer issued an access token whose `token_type` is not `DPoP`. */
function issuedBearer(body: unknown): boolean {
  const issued = issuedToken(body);
  return issued !== null && String(issued.tokenType).toLowerCase() !== 'dpop';
}

/** How many bearer tokens (issued to requests without a proof) a binding remembers: the current one and a few before it. */
const BEARER_TOKENS_KEPT = 4;

/** `NFT701`: no key for a proof. */
const keyUnavailable = (why: string) =>
  new FreshTokenError(DpopErrorCode.KeyUnavailable, typeof ngDevMode === 'undefined' || ngDevMode ? why : '');

/** @internal One token's DPoP key, proofs and nonces; the {@link TokenBinding} of {@link withDpop}. */
class DpopBinding implements TokenBinding, DpopClient {
  readonly #database: string;
  readonly #name: string;
  readonly #fallback: boolean;
  readonly #clock: FreshTokenClock;
  readonly #base: string | undefined;
  readonly #auth: AuthService;
  /** The key and its public JWK, loading or loaded; `null` inside: no key (the browser cannot, or it failed — then dropped, see `#loaded`). */
  #key: Promise<{ stored: ɵStoredDpopKey; jwk: JWK } | null> | null = null;
  #held: ɵStoredDpopKey | null = null;
  /** A deletion in progress (a sign-out): a new key is made only after it. */
  #deleting: Promise<void> = Promise.resolve();
  readonly #nonces = new Map<string, string>();
  /**
   * Server clock minus device clock (ms) per origin, from the `Date` header of that origin's DPoP error
   * answers (`use_dpop_nonce`, `invalid_dpop_proof`); an origin without one uses the core's skew estimate.
   */
  readonly #clockOffsets = new Map<string, number>();
  /**
   * Access tokens the IdP issued to token requests of this binding that carried no proof (the bearer
   * fallback): the only tokens ever sent as `Authorization: Bearer`. Any other token may be bound to the
   * key (another tab's refresh, a proof made earlier), so without the key it is not sent at all.
   */
  readonly #bearerTokens: string[] = [];
  #athOf: [token: string, ath: Promise<string>] | null = null;

  constructor(options: DpopOptions, auth: AuthService) {
    this.#database = options.databaseName ?? DEFAULT_DPOP_DATABASE;
    this.#name = injectTokenName() ?? '(default)';
    this.#fallback = options.unsupported === 'bearer';
    this.#clock = inject(FRESH_TOKEN_CLOCK);
    const doc = inject(DOCUMENT, { optional: true });
    this.#base = doc?.baseURI ?? doc?.location?.href;
    this.#auth = auth;
    BINDINGS.set(auth, this);
    const events = auth.events$.subscribe((event) => {
      // Sign-out is final: the key goes with the session (a new sign-in gets a new key). Another tab's
      // new token may be bound to a key that tab made after a sign-out here: read the store again.
      if (event.type === 'signed-out' || event.type === 'session-expired') this.#forget();
      else if (event.type === 'refreshed' && event.adopted) this.#key = null;
    });
    inject(DestroyRef).onDestroy(() => events.unsubscribe());
  }

  // --- TokenBinding ---------------------------------------------------------------------------

  send(req: HttpRequest<unknown>, next: HttpHandlerFn, token: string | null): Observable<HttpEvent<unknown>> {
    const url = req.urlWithParams;
    let headersSent: Record<string, string> | undefined;
    const attempt = (retried: boolean): Observable<HttpEvent<unknown>> =>
      from(this.#headersFor(req.method, url, token)).pipe(
        switchMap((headers) => next(req.clone({ setHeaders: (headersSent = headers) }))),
        tap((event) => {
          // The nonce belongs to the server that answered: after a redirect, the target's origin.
          if (event.type === HttpEventType.Response || event.type === HttpEventType.ResponseHeader) this.#note(event.url ?? url, event.headers.get('DPoP-Nonce'));
          // A token request's answer: bound if it carried a proof (else NFT703), remembered as bearer if it carried none.
          if (token === null && event.type === HttpEventType.Response && event.ok) this.#issued(event.body, 'DPoP' in (headersSent ?? {}));
        }),
        catchError((err: unknown) => {
          if (!(err instanceof HttpErrorResponse)) return throwError(() => err);
          const answeredBy = err.url ?? url;
          const header = (name: string) => err.headers.get(name);
          // Retried only with a nonce (or a clock) of the request's own origin: another origin's (a redirect's) cannot go into its proof.
          const freshNonce = this.#note(answeredBy, header('DPoP-Nonce'), url);
          const kind = dpopError(err.status, header, err.error);
          const clockMoved = kind !== null && this.#noteDate(answeredBy, header('Date'), url);
          // One retry in all: with the nonce, or with the server's clock for a proof refused (its iat, most likely).
          if (!retried && ((kind === 'use_dpop_nonce' && freshNonce) || (kind === 'invalid_dpop_proof' && clockMoved))) return attempt(true);
          // A token request's refused proof is no refused grant, nor is a nonce challenge left after the retry (a new
          // nonce on every answer, one too long to use, or none the browser may read): transient NFT704, the session,
          // its refresh token and the key stay.
          if (token === null && (kind === 'invalid_dpop_proof' || kind === 'use_dpop_nonce')) return throwError(() => proofRejected(err.status));
          return throwError(() => err);
        }),
      );
    return attempt(false);
  }

  /** A 401 rejects the token — unless it is a nonce challenge, which the retry in `send` has answered already. */
  readonly rejectsToken = (error: unknown): boolean =>
    error instanceof HttpErrorResponse && error.status === 401 && !isNonceError(401, (name) => error.headers.get(name), null);

  /**
   * A login's answer handed to a source (`OAuthSession.signIn()`): a `token_type` present and not `DPoP` is
   * refused with `NFT703` — unless the bearer fallback knows that token as issued without a proof (its code
   * exchange went through `fetch()` without a key), or this origin can hold no key at all.
   */
  readonly checkTokenResponse = (response: unknown): void => {
    const issued = issuedToken(response);
    if (!issued || issued.tokenType === undefined || String(issued.tokenType).toLowerCase() === 'dpop') return;
    if (this.#fallback && (this.#bearerTokens.includes(issued.accessToken) || !ɵkeyStoreSupported())) return;
    throw unbound();
  };

  // --- DpopClient -----------------------------------------------------------------------------

  async proof(method: string, url: string, accessToken?: string | null): Promise<string | null> {
    const key = await this.#loaded();
    if (!key) return null;
    const htu = ɵhtu(url, this.#base);
    const ath = accessToken ? await this.#ath(accessToken) : undefined;
    return ɵsignProof(key.stored.keyPair.privateKey, key.jwk, {
      htm: method.toUpperCase(),
      htu: htu.href,
      // On the server's clock: a device clock minutes off would make every proof's iat out of range.
      iatSeconds: Math.floor((this.#clock.now() + this.#clockOffset(htu.origin)) / 1000),
      ath,
      nonce: this.#nonces.get(htu.origin),
    });
  }

  async headers(method: string, url: string): Promise<Record<string, string>> {
    const token = await this.#auth.getValidToken();
    return token === null ? {} : this.#headersFor(method, url, token);
  }

  async fetch(input: string | URL, init: RequestInit & { accessToken?: string | null } = {}): Promise<Response> {
    const { accessToken = null, ...rest } = init;
    const url = String(input);
    const method = (rest.method ?? 'GET').toUpperCase();
    for (let retried = false; ; retried = true) {
      const headers = new Headers(rest.headers);
      for (const [name, value] of Object.entries(await this.#headersFor(method, url, accessToken))) headers.set(name, value);
      // The method the proof names is the one sent: fetch() upper-cases only the standard ones, not 'patch'.
      const response = await fetch(url, { ...rest, method, headers });
      const fresh = this.#note(response.url || url, response.headers.get('DPoP-Nonce'), url);
      // Any successful answer to a token request is checked, whatever its Content-Type: a JSON body with an
      // access_token is a token answer (a server that labels it text/plain, or not at all, issues tokens too).
      if (response.ok && accessToken === null) this.#issued(await response.clone().text(), headers.has('DPoP'));
      if (response.ok) return response;
      const body = response.status === 400 ? await response.clone().text() : null;
      const kind = dpopError(response.status, (n) => response.headers.get(n), body);
      const clockMoved = kind !== null && this.#noteDate(response.url || url, response.headers.get('Date'), url);
      // A streamed body was read by the first attempt and cannot be sent again: its answer goes back as it
      // is (the nonce and the clock are remembered, so the caller's own retry with a new body has them).
      if (retried || (typeof ReadableStream !== 'undefined' && rest.body instanceof ReadableStream)) return response;
      if (!((kind === 'use_dpop_nonce' && fresh) || (kind === 'invalid_dpop_proof' && clockMoved))) return response;
    }
  }

  async thumbprint(): Promise<string | null> {
    const key = await this.#loaded();
    return key && calculateJwkThumbprint(key.jwk, 'sha256');
  }

  // --- internals ------------------------------------------------------------------------------

  /**
   * The headers of one request: the proof, and the token (`null`: a token request) under its scheme. Only
   * a token the IdP issued as bearer to this binding goes as `Bearer` — or any token where no tab of this
   * origin can hold a key (no WebCrypto or IndexedDB at all); a token that may be bound to the key is never
   * sent as bearer: without the key it fails with `NFT701`.
   */
  async #headersFor(method: string, url: string, token: string | null): Promise<Record<string, string>> {
    if (token !== null && this.#bearerTokens.includes(token)) return { Authorization: `Bearer ${token}` };
    const proof = await this.proof(method, url, token);
    if (proof !== null) return token === null ? { DPoP: proof } : { Authorization: `DPoP ${token}`, DPoP: proof };
    if (token === null) return {};
    if (!ɵkeyStoreSupported()) return { Authorization: `Bearer ${token}` };
    throw keyUnavailable(
      'The DPoP key could not be loaded, and this token was not issued as a bearer token (it may be bound to the key: another tab got it, or it was obtained with a proof). It is not sent as Authorization: Bearer; the next request tries to load the key again.',
    );
  }

  /**
   * Checks a token request's successful answer: a request that carried a proof must get a bound token
   * (RFC 9449 §5) — a bearer token means the server ignored the proof, and sending it as DPoP would fail
   * everywhere, so `NFT703` now; a token issued to a request without a proof (the bearer fallback) is
   * remembered as bearer.
   */
  #issued(body: unknown, withProof: boolean): void {
    if (withProof) {
      if (issuedBearer(body)) throw unbound();
      return;
    }
    const issued = issuedToken(body);
    if (!issued || this.#bearerTokens.includes(issued.accessToken)) return;
    this.#bearerTokens.push(issued.accessToken);
    if (this.#bearerTokens.length > BEARER_TOKENS_KEPT) this.#bearerTokens.shift();
  }

  /**
   * The key, loaded or made once; `null` in the bearer fallback; throws `NFT701` without a key otherwise.
   * A failed load is not kept: calls that arrive while a load runs share it, and the next call after it
   * failed tries once more (at most one IndexedDB attempt per request or proof, never a retry loop), so
   * one IndexedDB hiccup does not switch DPoP off until a reload.
   */
  async #loaded(): Promise<{ stored: ɵStoredDpopKey; jwk: JWK } | null> {
    const loading = (this.#key ??= this.#load());
    const key = await loading;
    if (!key && this.#key === loading) this.#key = null;
    if (key || this.#fallback) return key;
    throw keyUnavailable(
      'No DPoP key: this browser lacks WebCrypto or IndexedDB (is the page served over HTTPS?), or the key could not be loaded. To send bearer tokens instead, use withDpop({ unsupported: "bearer" }).',
    );
  }

  async #load(): Promise<{ stored: ɵStoredDpopKey; jwk: JWK } | null> {
    if (!ɵkeyStoreSupported()) return null;
    try {
      await this.#deleting;
      const stored = await ɵloadOrCreateKey(this.#database, this.#name);
      this.#held = stored;
      return { stored, jwk: await ɵpublicJwk(stored.keyPair.publicKey) };
    } catch {
      return null;
    }
  }

  /** Forgets the key, here and in the store (only the key this tab knew, if it knew one), and the nonces. */
  #forget(): void {
    const id = this.#held?.id;
    this.#key = null;
    this.#held = null;
    this.#athOf = null;
    this.#nonces.clear();
    this.#bearerTokens.length = 0;
    if (!ɵkeyStoreSupported()) return;
    const previous = this.#deleting;
    this.#deleting = previous.then(() => ɵdeleteKey(this.#database, this.#name, id)).catch(() => undefined);
  }

  /** Server minus device clock (ms) for proofs to `origin`: what its `Date` said, else the core's estimate from the token's `iat`. */
  #clockOffset(origin: string): number {
    return this.#clockOffsets.get(origin) ?? -this.#auth.clockSkewMs;
  }

  /**
   * Takes the server's clock from the `Date` header of a DPoP error answer from `answeredBy`'s origin (its
   * middle second: `Date` has 1 s resolution); within {@link CLOCK_TOLERANCE_MS} of the device it is the
   * device's. Whether proofs to `requestUrl`'s origin now get an iat more than that tolerance different.
   */
  #noteDate(answeredBy: string, date: string | null, requestUrl: string): boolean {
    const serverMs = date ? Date.parse(date) : NaN;
    if (!Number.isFinite(serverMs)) return false;
    const origin = ɵhtu(answeredBy, this.#base).origin;
    const before = this.#clockOffset(origin);
    const offset = Math.round(serverMs + 500 - this.#clock.now());
    if (Math.abs(offset) > CLOCK_TOLERANCE_MS) this.#clockOffsets.set(origin, offset);
    else this.#clockOffsets.set(origin, 0);
    return origin === ɵhtu(requestUrl, this.#base).origin && Math.abs(this.#clockOffset(origin) - before) > CLOCK_TOLERANCE_MS;
  }

  /** The `ath` of the last token, hashed once per token. */
  #ath(token: string): Promise<string> {
    if (this.#athOf?.[0] !== token) this.#athOf = [token, ɵath(token)];
    return this.#athOf[1];
  }

  /**
   * Remembers the nonce an answer from `answeredBy`'s origin gave (the response URL: after a redirect, the
   * target); whether there was a usable one — and, with `requestUrl`, whether it is for that URL's origin too.
   */
  #note(answeredBy: string, nonce: string | null, requestUrl?: string): boolean {
    if (!nonce || !isUsableNonce(nonce)) return false;
    const origin = ɵhtu(answeredBy, this.#base).origin;
    this.#nonces.set(origin, nonce);
    return requestUrl === undefined || origin === ɵhtu(requestUrl, this.#base).origin;
  }
}

/**
 * The binding on the server platform: no key there, so a DPoP token is never sent from a render — its
 * requests go without it (and their 401s cause no token refresh), `headers()` is `{}`, and a proof cannot
 * be made (`NFT701`).
 */
function serverBinding(auth: AuthService): TokenBinding & DpopClient {
  const noKey = () =>
    Promise.reject(new FreshTokenError(DpopErrorCode.KeyUnavailable, typeof ngDevMode === 'undefined' || ngDevMode ? 'No DPoP key in a server render: make DPoP requests in the browser.' : ''));
  const client = {
    send: (req: HttpRequest<unknown>, next: HttpHandlerFn) => next(req),
    // The request went without the token, so no answer can reject it: a 401 goes back without a refresh.
    rejectsToken: () => false,
    proof: noKey,
    fetch: noKey,
    headers: async () => ({}),
    thumbprint: async () => null,
  };
  BINDINGS.set(auth, client);
  SERVER_CLIENTS.add(client);
  return client;
}

/**
 * Binds the token to a key the browser holds (DPoP, RFC 9449): a non-extractable P-256 key pair made
 * with WebCrypto and kept in IndexedDB — one per app origin and token name, shared by the tabs, kept
 * across reloads, deleted at sign-out. Every request that carries the token gets
 * `Authorization: DPoP <token>` and a fresh proof (`htm`, `htu` without query or fragment, `iat`, a
 * unique `jti`, `ath`, the origin's nonce), retried once with the nonce when the API answers
 * `use_dpop_nonce` (no token refresh for that). `withOAuthRefreshToken()` sends proofs to the token
 * endpoint too, so the refresh token is bound as well. Other URLs are untouched. In a server render no
 * DPoP token is sent (the server has no key): requests go without it. See {@link DpopOptions} for
 * browsers without a key. Needs `jose` (an optional peer dependency).
 *
 * @example
 * provideFreshToken(
 *   withOAuthRefreshToken({ tokenUrl: 'https://idp.example.com/token', clientId: 'spa', storage: 'sessionStorage' }),
 *   withDpop(),
 *   withAuthorizedUrls('https://api.example.com'),
 * )
 */
export function withDpop(options: DpopOptions = {}): FreshTokenFeature<typeof FreshTokenFeatureKind.TokenBinding> {
  const unsupported = options?.unsupported;
  const database = options?.databaseName;
  if ((unsupported !== undefined && unsupported !== 'error' && unsupported !== 'bearer') || (database !== undefined && (typeof database !== 'string' || database === ''))) {
    throw new FreshTokenError(
      DpopErrorCode.InvalidDpopOption,
      typeof ngDevMode === 'undefined' || ngDevMode ? "withDpop() takes { unsupported?: 'error' | 'bearer', databaseName?: non-empty string }." : '',
    );
  }
  const providers: Provider[] = [
    // At startup, so that a sign-out before the first request still deletes the key.
    provideEnvironmentInitializer(() => void inject(FRESH_TOKEN_BINDING)) as unknown as Provider,
  ];
  return withTokenBinding(
    () => (inject(PLATFORM_ID, { optional: true }) === 'server' ? serverBinding(inject(AuthService)) : new DpopBinding({ ...options }, inject(AuthService))),
    providers,
  );
}

/**
 * The {@link DpopClient} of the token `name` (a `withApiToken()` name), or of the app's default token.
 * Call it in an injection context. Throws `NFT702` when that token has no `withDpop()`. In a server
 * render (no key there) it gives a client whose `headers()` is `{}` and whose proofs fail with `NFT701`.
 *
 * @example
 * const dpop = injectDpop();
 * const headers = await dpop.headers('POST', 'https://api.example.com/orders');
 */
export function injectDpop(name?: string): DpopClient {
  const own = name === undefined ? inject(FRESH_TOKEN_BINDING, { optional: true }) : null;
  const client = isClient(own) ? own : BINDINGS.get(injectAuth(name));
  if (!client) {
    throw new FreshTokenError(
      DpopErrorCode.InvalidDpopOption,
      typeof ngDevMode === 'undefined' || ngDevMode ? `injectDpop(${name === undefined ? '' : JSON.stringify(name)}): that token has no withDpop().` : '',
    );
  }
  return client;
}
