import { isPlatformServer } from '@angular/common';
import { HttpBackend, HttpClient } from '@angular/common/http';
import { Injectable, InjectionToken, Injector, PLATFORM_ID, inject } from '@angular/core';
import { AuthService, FRESH_TOKEN_BINDING, FRESH_TOKEN_CLOCK, FreshTokenError, withTokenSource } from 'ngx-fresh-token';
import type { FreshTokenFeature, FreshTokenFeatureKind, TokenGrant, TokenRequest, TokenSource } from 'ngx-fresh-token';
import { OAuthErrorCode } from './errors';
import {
  OAuthTokenResponse,
  TokenRequestTimeoutOptions,
  ɵgrantFromTokenResponse,
  ɵrequestToken,
  ɵrequireString,
  ɵtokenRequestTimeoutMs,
} from './token-endpoint';

/**
 * Where {@link withOAuthRefreshToken} keeps the refresh token. `set(null)` forgets it.
 *
 * @example
 * const storage: RefreshTokenStorage = { get: () => myVault.read(), set: (t) => myVault.write(t) };
 */
export interface RefreshTokenStorage {
  /** The stored refresh token, or `null`. */
  get(): string | null | Promise<string | null>;
  /** Stores a refresh token, or forgets it with `null`. */
  set(refreshToken: string | null): void | Promise<void>;
}

/**
 * Options of {@link withOAuthRefreshToken}: the refresh_token grant for a public client (RFC 6749 §6).
 *
 * @example
 * const options: OAuthRefreshTokenOptions = { tokenUrl: 'https://auth.example.com/token', clientId: 'spa', storage: 'sessionStorage' };
 */
export interface OAuthRefreshTokenOptions extends TokenRequestTimeoutOptions {
  /** The token endpoint. */
  tokenUrl: string;
  /** The public client's id, sent with every refresh request. */
  clientId: string;
  /** Scopes to ask for on refresh (optional; by default the server keeps the granted ones). */
  scope?: string | string[];
  /**
   * Where the refresh token lives: `'memory'` (default; lost on reload), `'sessionStorage'`
   * (survives a reload of this tab; plain memory on the server), or your own {@link RefreshTokenStorage}.
   */
  storage?: 'memory' | 'sessionStorage' | RefreshTokenStorage;
  /** The `sessionStorage` key (default `ngx-fresh-token.oauth.refresh-token`). */
  storageKey?: string;
}

/**
 * Tokens a login flow hands to {@link OAuthSession.signIn}: either the token endpoint's answer
 * as it is, or the same in camel case.
 *
 * @example
 * const tokens: OAuthSignInTokens = { refreshToken: 'r1', accessToken: 'a1', expiresAt: Date.now() + 300_000 };
 */
export interface OAuthSignInTokens {
  /** The refresh token. */
  refreshToken: string;
  /** The access token from the same answer, if any; without it the first access token is fetched with the refresh token. */
  accessToken?: string;
  /** When the access token expires (epoch ms). */
  expiresAt?: number;
  /** An OpenID Connect ID token. */
  idToken?: string;
}

/**
 * Default `sessionStorage` key of {@link withOAuthRefreshToken}.
 *
 * @example
 * sessionStorage.removeItem(DEFAULT_REFRESH_TOKEN_STORAGE_KEY);
 */
export const DEFAULT_REFRESH_TOKEN_STORAGE_KEY = 'ngx-fresh-token.oauth.refresh-token';

const OAUTH_REFRESH_OPTIONS = new InjectionToken<OAuthRefreshTokenOptions>(
  typeof ngDevMode === 'undefined' || ngDevMode ? 'OAUTH_REFRESH_OPTIONS' : '',
);

function memoryStorage(): RefreshTokenStorage {
  let value: string | null = null;
  return { get: () => value, set: (token) => void (value = token) };
}

function sessionStorageOrMemory(key: string, isServer: boolean): RefreshTokenStorage {
  let storage: Storage | undefined;
  try {
    storage = isServer || typeof sessionStorage === 'undefined' ? undefined : sessionStorage;
  } catch {
    storage = undefined; // Storage disabled by the browser: keep the token in memory.
  }
  if (!storage) return memoryStorage();
  const store = storage;
  return {
    get: () => store.getItem(key),
    set: (token) => (token === null ? store.removeItem(key) : store.setItem(key, token)),
  };
}

/**
 * The token source of {@link withOAuthRefreshToken}, and where the app hands in the tokens from
 * its login. It redeems each refresh token at most once at a time: a rotated refresh token is
 * stored before the shared refresh resolves, so the next refresh always sends the newest one.
 *
 * @example
 * // after your authorization-code + PKCE login
 * await inject(OAuthSession).signIn(tokenResponse);
 */
@Injectable()
export class OAuthSession implements TokenSource {
  private readonly options = inject(OAUTH_REFRESH_OPTIONS);
  private readonly injector = inject(Injector);
  private readonly backend = inject(HttpBackend);
  private readonly http = new HttpClient(this.backend);
  private readonly clock = inject(FRESH_TOKEN_CLOCK);
  private readonly storage: RefreshTokenStorage;
  private pending: Promise<TokenGrant | null> | null = null;
  /** Bumped by signIn/signOut so a refresh answer that arrives later cannot overwrite their token. */
  private generation = 0;

  constructor() {
    const choice = this.options.storage ?? 'memory';
    const isServer = isPlatformServer(inject(PLATFORM_ID, { optional: true }) ?? 'unknown');
    this.storage =
      choice === 'memory'
        ? memoryStorage()
        : choice === 'sessionStorage'
          ? sessionStorageOrMemory(this.options.storageKey ?? DEFAULT_REFRESH_TOKEN_STORAGE_KEY, isServer)
          : choice;
  }

  /**
   * Starts a session from the tokens of a login (the token endpoint's answer, or camel case):
   * stores the refresh token and puts the access token in place, or fetches one when absent. With a
   * token binding (`withDpop()`), an answer whose `token_type` the binding cannot send (not `DPoP`) is
   * refused with its coded error (`NFT703`) and nothing is kept.
   *
   * @example
   * await inject(OAuthSession).signIn({ refreshToken, accessToken, expiresAt });
   */
  async signIn(tokens: OAuthTokenResponse | OAuthSignInTokens): Promise<void> {
    const camel: OAuthSignInTokens =
      'refreshToken' in tokens
        ? tokens
        : { refreshToken: tokens.refresh_token ?? '', ...this.grantFields(tokens) };
    if (typeof camel.refreshToken !== 'string' || camel.refreshToken === '') {
      throw new FreshTokenError(
        OAuthErrorCode.InvalidOAuthOption,
        typeof ngDevMode === 'undefined' || ngDevMode
          ? 'OAuthSession.signIn() needs a refresh token. Ask for the offline_access scope (or your server\'s equivalent) in the login.'
          : '',
      );
    }
    // A token binding (withDpop()) refuses a login answer whose token it cannot send — a bearer token where
    // DPoP is required (NFT703), as its refresh path does — before anything of it is kept.
    if (!('refreshToken' in tokens)) this.injector.get(FRESH_TOKEN_BINDING, null, { self: true })?.checkTokenResponse?.(tokens);
    this.generation++;
    this.pending = null;
    await this.storage.set(camel.refreshToken);
    const auth = this.injector.get(AuthService);
    if (camel.accessToken) {
      auth.setGrant({ accessToken: camel.accessToken, expiresAt: camel.expiresAt, idToken: camel.idToken });
    } else {
      await auth.refresh();
    }
  }

  /**
   * Whether a refresh token is stored (for example after a reload with `sessionStorage`).
   *
   * @example
   * if (await inject(OAuthSession).hasRefreshToken()) await inject(AuthService).getValidToken();
   */
  async hasRefreshToken(): Promise<boolean> {
    return !!(await this.storage.get());
  }

  /** Redeems the stored refresh token; `null` when there is none (signed out). Called by `AuthService`. */
  getToken(_request: TokenRequest): Promise<TokenGrant | null> {
    // One redemption at a time, even when the core's attempt timeout gave up on an earlier one.
    return (this.pending ??= this.redeem().finally(() => {
      this.pending = null;
    }));
  }

  /** Forgets the refresh token. Called by `AuthService.signOut()` and when the session ends. */
  async signOut(): Promise<void> {
    this.generation++;
    this.pending = null;
    await this.storage.set(null);
  }

  private grantFields(tokens: OAuthTokenResponse): Omit<OAuthSignInTokens, 'refreshToken'> {
    if (typeof tokens.access_token !== 'string' || !tokens.access_token) return {};
    const grant = ɵgrantFromTokenResponse(tokens, this.clock.now());
    return { accessToken: grant.accessToken, expiresAt: grant.expiresAt, idToken: grant.idToken };
  }

  private async redeem(): Promise<TokenGrant | null> {
    const generation = this.generation;
    const refreshToken = await this.storage.get();
    if (!refreshToken) return null;
    const { tokenUrl, clientId } = this.options;
    const scope = Array.isArray(this.options.scope) ? this.options.scope.join(' ') : this.options.scope;
    let response: OAuthTokenResponse;
    try {
      // With withDpop() (a token binding beside this source) the refresh request carries a proof, so the
      // refresh token of this public client is bound to the same key (RFC 9449 §5); the binding retries
      // once with the server's nonce (use_dpop_nonce).
      const binding = this.injector.get(FRESH_TOKEN_BINDING, null, { self: true });
      const backend = this.backend;
      response = await ɵrequestToken(
        binding ? new HttpClient({ handle: (req) => binding.send(req, (r) => backend.handle(r), null) }) : this.http,
        this.clock,
        tokenUrl,
        { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, scope },
        {},
        ɵtokenRequestTimeoutMs('withOAuthRefreshToken', this.options),
      );
    } catch (err) {
      // A 2xx that is no token answer (a captive portal's page, an SPA fallback during a deploy) is no verdict on the
      // refresh token: transient, the token kept and tried again later.
      if (err instanceof FreshTokenError && err.code === OAuthErrorCode.MalformedTokenResponse) {
        throw new FreshTokenError(err.code, err.message.replace(/^NFT\d+: /, ''), { transient: true, status: err.status });
      }
      // A refresh token the server rejected is dead: forget it so nothing sends it again.
      if (err instanceof FreshTokenError && !err.transient && generation === this.generation) await this.storage.set(null);
      throw err;
    }
    if (generation !== this.generation) return null;
    // Rotation: the new refresh token is stored before anyone hears of the new access token.
    if (typeof response.refresh_token === 'string' && response.refresh_token && response.refresh_token !== refreshToken) {
      await this.storage.set(response.refresh_token);
    }
    return ɵgrantFromTokenResponse(response, this.clock.now());
  }
}

/**
 * Keeps a public client's session alive with the OAuth 2 refresh_token grant. The app hands the
 * tokens of its own login (authorization code + PKCE) to {@link OAuthSession.signIn}; from then
 * on access tokens are renewed inside the refresh buffer, N concurrent callers share one refresh,
 * rotated refresh tokens are stored before the refresh resolves (no refresh token is sent
 * twice), and `invalid_grant` ends the session (`signed-out`, `session-expired`).
 *
 * @example
 * provideFreshToken(
 *   withOAuthRefreshToken({ tokenUrl: 'https://auth.example.com/token', clientId: 'spa', storage: 'sessionStorage' }),
 *   withAuthorizedUrls('/', 'https://api.example.com'),
 * )
 */
export function withOAuthRefreshToken(options: OAuthRefreshTokenOptions): FreshTokenFeature<typeof FreshTokenFeatureKind.TokenSource> {
  const fn = 'withOAuthRefreshToken';
  ɵrequireString(fn, 'tokenUrl', options?.tokenUrl);
  ɵrequireString(fn, 'clientId', options.clientId);
  ɵtokenRequestTimeoutMs(fn, options);
  const storage = options.storage;
  if (
    storage !== undefined &&
    storage !== 'memory' &&
    storage !== 'sessionStorage' &&
    (typeof storage !== 'object' || storage === null || typeof storage.get !== 'function' || typeof storage.set !== 'function')
  ) {
    throw new FreshTokenError(
      OAuthErrorCode.InvalidOAuthOption,
      typeof ngDevMode === 'undefined' || ngDevMode ? `${fn}() takes storage 'memory', 'sessionStorage' or an object with get() and set().` : '',
    );
  }
  return withTokenSource(() => inject(OAuthSession), [{ provide: OAUTH_REFRESH_OPTIONS, useValue: options }, OAuthSession]);
}
