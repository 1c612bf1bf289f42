import { bffError, BffErrorCode } from './errors';
import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_PROXY_METHODS, DEFAULT_PROXY_TIMEOUT_MS, NEVER_FORWARDED_HEADERS, type BffProxyOptions, type ResolvedProxy } from './proxy';
import type { BffDpopOptions } from './dpop';
import { memorySessionStore, type SessionStore } from './session-store';

/**
 * How the BFF authenticates to the token endpoint (RFC 6749 §2.3, RFC 7523).
 *
 * @example
 * createBff({ ...options, clientAuthMethod: 'private_key_jwt', clientPrivateKey: { key: privateKey, kid: 'bff-1' } });
 */
export type BffClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/**
 * Cookie settings of {@link createBff}. The defaults follow RFC 10017 §6.1: the session cookie is
 * `__Host-`, `Secure`, `HttpOnly`, `Path=/`, no `Domain`, `SameSite=Strict`.
 *
 * @example
 * const cookie: BffCookieOptions = { name: 'app-session' }; // sent as __Host-app-session
 */
export interface BffCookieOptions {
  /** Session cookie name, without the prefix (default `nft-session`; sent as `__Host-nft-session`). */
  name?: string;
  /**
   * Drops `Secure` and the `__Host-` prefix, for a development host other than `localhost` served
   * over plain http (browsers accept `Secure` cookies on `http://localhost` already). Never in production.
   */
  dangerouslyAllowInsecureCookies?: boolean;
}

/**
 * Session lifetime of {@link createBff}: a session ends after `idleMs` without a request, or
 * `absoluteMs` after the login, whichever comes first; sliding never passes the absolute limit.
 *
 * @example
 * const session: BffSessionOptions = { idleMs: 30 * 60_000, absoluteMs: 8 * 3_600_000 };
 */
export interface BffSessionOptions {
  /** Ends a session this long after its last request (default 30 min). */
  idleMs?: number;
  /** Ends a session this long after the login, whatever happens (default 8 h); capped at the refresh token's lifetime when the IdP tells it. */
  absoluteMs?: number;
}

/**
 * What the BFF tells the app about, for metrics and audit logs. Never carries a refresh token,
 * secret or cookie value; `accessToken` is there on `login` and `refresh` only, for server-side
 * bookkeeping (never log it).
 *
 * @example
 * createBff({ ...options, onEvent: (e) => metrics.increment(`bff.${e.type}`) });
 */
export interface BffEvent {
  /** What happened. */
  type: 'login' | 'refresh' | 'logout' | 'session-ended' | 'backchannel-logout';
  /** The session's store key (a hash of its cookie id, never the id itself). */
  sessionKey: string;
  /** The user (`sub` of the ID token), when known. */
  sub?: string;
  /** The new access token (`login`, `refresh`). */
  accessToken?: string;
}

/**
 * One API whose tokens the BFF mints apart from the default token (RFC 8707 resource and/or a narrower
 * scope): `/session/token?api=<name>` hands them out, `bff.accessToken(request, { api })` too. The
 * browser can name an API; it can never ask for an arbitrary resource or scope.
 *
 * @example
 * const apis: Record<string, BffApiOptions> = { reports: { resource: 'https://reports.example.com', scope: 'reports:read' } };
 */
export interface BffApiOptions {
  /** RFC 8707 resource indicator of this API's tokens (an absolute URI without a fragment); asked for at the login too. */
  resource?: string;
  /** Scope of this API's tokens, a subset of what the login was granted (downscoping, RFC 10017 §6.2); its scopes are asked for at the login too. */
  scope?: string;
  /**
   * Proxy mode (RFC 10017 §6.1): calls to `proxy.path` on the app's origin are forwarded to `proxy.target`
   * with this API's token, which never reaches the browser (`/session/token?api=` refuses it: 403).
   */
  proxy?: BffProxyOptions;
}

/**
 * Options of {@link createBff}. Checked once, when `createBff()` runs: a bad one throws
 * `NFT401` naming the option (never its value).
 *
 * @example
 * const options: BffOptions = {
 *   issuer: 'https://id.example.com',
 *   clientId: 'web-bff',
 *   clientSecret: process.env['OIDC_CLIENT_SECRET']!,
 *   redirectUri: 'https://app.example.com/auth/callback',
 *   postLogoutRedirectUri: 'https://app.example.com/',
 *   scope: 'openid profile offline_access api',
 *   secrets: [process.env['SESSION_SECRET']!],
 * };
 */
export interface BffOptions {
  /** The OpenID Provider's issuer URL (`https`; discovery runs once, at `createBff()`). */
  issuer: string | URL;
  /** The BFF's client id at the IdP. */
  clientId: string;
  /** Client secret, for `client_secret_basic` (the default) and `client_secret_post`. */
  clientSecret?: string;
  /** Client authentication at the token, revocation and end-session endpoints (default `client_secret_basic`). */
  clientAuthMethod?: BffClientAuthMethod;
  /** The private key for `private_key_jwt` (a WebCrypto `CryptoKey`, with its `kid` if the IdP needs one). */
  clientPrivateKey?: CryptoKey | { key: CryptoKey; kid?: string };
  /** The registered redirect URI: its path is the callback route, its origin the app's origin. */
  redirectUri: string | URL;
  /** Where the IdP sends the browser after RP-initiated logout (registered at the IdP). */
  postLogoutRedirectUri?: string | URL;
  /** Scopes of the login (default `openid offline_access`); `openid` is required. */
  scope?: string;
  /** RFC 8707 resource indicator(s) for the access tokens: absolute URIs (`https://api.example.com`, `urn:example:api`), no fragment. */
  resource?: string | string[];
  /**
   * APIs with tokens of their own, by name (letters, digits, `-`, `_`): `/session/token?api=<name>`. Each
   * token is cached per session and API; redemptions for the APIs of one session are serialized (they
   * share one rotating refresh token). Their resources and scopes are asked for at the login.
   */
  apis?: Readonly<Record<string, BffApiOptions>>;
  /** Where sessions live (default {@link memorySessionStore}, one process). */
  store?: SessionStore;
  /** Keys sealing the sessions (AES-256-GCM), each ≥ 32 characters: `[current, ...previous]`. The first seals; all open. */
  secrets: readonly string[];
  /** Session cookie settings. */
  cookie?: BffCookieOptions;
  /** Idle and absolute session lifetime. */
  session?: BffSessionOptions;
  /** Prefix of every route (default none: `/auth/login`, `/session/token`, …). */
  basePath?: string;
  /** ID-token claims `/session/user` may show (default `['sub', 'name', 'preferred_username', 'email', 'picture']`). */
  userClaims?: readonly string[];
  /** A cached access token is handed out again only while it has more than this left (default 30 000, the browser's refresh buffer), or half its lifetime if that is shorter. */
  refreshBufferMs?: number;
  /** Bound of one request to the IdP in ms (default 10 000). */
  tokenRequestTimeoutMs?: number;
  /** Bound of one session-store call in ms (default 2 000): a slower store answers 503 + `Retry-After`. */
  storeTimeoutMs?: number;
  /**
   * Forced refreshes (`X-Force-Refresh`, with or without `X-Replaces-Token`) redeem the refresh token
   * at most once per session and token per this many ms (default 5 000); inside it a forced call gets
   * the newest token. Bounds what one cookie holder (or one XSS) can make the BFF spend of the client's
   * rate limit at the IdP. `0` turns the bound off.
   */
  minRefreshIntervalMs?: number;
  /**
   * How long a rotated grant the session store failed to take is kept in this process, and how long other
   * instances refrain from redeeming that session's refresh token meanwhile (default 120 000). A holder
   * that died mid-redemption leaves its session answering 503 that long; then the next redemption decides.
   */
  keptGrantMs?: number;
  /**
   * `false`: `/session/token` refuses every call (403 `NFT414`), so no token ever reaches the browser —
   * proxy mode only (default `true`).
   */
  handOutTokens?: boolean;
  /**
   * DPoP (RFC 9449): every token request (code, refresh, client credentials) and every proxied call carries
   * a proof signed with this key, so the IdP binds the tokens to it (`cnf.jkt`) and a copied token is useless.
   * The same key on every instance; rotate through `previousKeys`. Bound tokens never leave the server:
   * `/session/token` and `bff.accessToken()` refuse them (`NFT420`); the browser calls APIs through the proxy.
   */
  dpop?: BffDpopOptions;
  /** Extra origins accepted in the `Origin` header of state-changing requests (default: only the redirect URI's origin). */
  allowedOrigins?: readonly string[];
  /**
   * Query parameters of `/auth/login` passed on to the authorization request (default `['login_hint']`).
   * Protocol parameters (`state`, `nonce`, `redirect_uri`, `code_challenge`, `client_id`, `scope`, …) are
   * refused: `createBff()` throws `NFT401` naming them.
   */
  forwardedLoginParams?: readonly string[];
  /** Extra parameters of every authorization request (for example `{ prompt: 'login' }`). */
  authorizationParams?: Readonly<Record<string, string>>;
  /**
   * Allows a plain-`http` issuer (a loopback development IdP). Warns once when its host is not
   * `localhost`/`127.0.0.1`. Never in production: tokens and the client secret would cross the network in clear.
   */
  dangerouslyAllowInsecureHttpIssuer?: boolean;
  /**
   * Told about logins, refreshes and logouts (for metrics; see {@link BffEvent}). Isolated: a throw or a
   * rejected promise is caught and logged once (without details), and changes nothing the BFF does.
   */
  onEvent?: (event: BffEvent) => void | Promise<unknown>;
  /** Where warnings go (default `console`); nothing secret is ever passed to it. */
  logger?: { warn(message: string): void };
  /** Clock in epoch ms (default `Date.now`); tests pass a fake one (give the same one to `memorySessionStore`). */
  now?: () => number;
}

/** The options after validation, with every default filled in. */
export interface ResolvedBffOptions {
  issuer: URL;
  clientId: string;
  clientSecret?: string;
  clientAuthMethod: BffClientAuthMethod;
  clientPrivateKey?: { key: CryptoKey; kid?: string };
  redirectUri: URL;
  postLogoutRedirectUri?: URL;
  scope: string;
  resource: string[];
  /** Named APIs (`apis`), by name (their `proxy` part resolved into `proxies`). */
  apis: ReadonlyMap<string, Readonly<Omit<BffApiOptions, 'proxy'>> & { proxied: boolean }>;
  /** The proxied APIs. */
  proxies: readonly ResolvedProxy[];
  store: SessionStore;
  secrets: readonly string[];
  cookieName: string;
  transactionCookiePrefix: string;
  secureCookies: boolean;
  idleMs: number;
  absoluteMs: number;
  routes: BffRoutes;
  userClaims: readonly string[];
  refreshBufferMs: number;
  tokenRequestTimeoutMs: number;
  storeTimeoutMs: number;
  minRefreshIntervalMs: number;
  keptGrantMs: number;
  handOutTokens: boolean;
  dpop: BffDpopOptions | null;
  allowedOrigins: ReadonlySet<string>;
  forwardedLoginParams: readonly string[];
  authorizationParams: Readonly<Record<string, string>>;
  insecureHttpIssuer: boolean;
  onEvent: (event: BffEvent) => void;
  logger: { warn(message: string): void };
  now: () => number;
}

/**
 * The paths the BFF answers (with the base path applied).
 *
 * @example
 * const { login } = bff.routes; // '/auth/login'
 */
export interface BffRoutes {
  /** `GET`: starts the login (302 to the IdP). */
  login: string;
  /** `GET`: the redirect URI's path. */
  callback: string;
  /** `POST`: ends the session, revokes the refresh token. */
  logout: string;
  /** `GET|POST`: hands out the access token (`withSessionEndpoint()`). */
  token: string;
  /** `GET`: the allowed ID-token claims of the user. */
  user: string;
  /** `POST`: OpenID Connect Back-Channel Logout 1.0. */
  backchannelLogout: string;
  /** `GET ?ref=`: the RP-initiated logout hop: 302 to the IdP's end-session endpoint with the ID token as hint, added server-side. */
  endSession: string;
}

export const DEFAULT_SCOPE = 'openid offline_access';
export const DEFAULT_IDLE_MS = 30 * 60_000;
export const DEFAULT_ABSOLUTE_MS = 8 * 3_600_000;
export const DEFAULT_USER_CLAIMS = ['sub', 'name', 'preferred_username', 'email', 'picture'] as const;
export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 5_000;
export const DEFAULT_KEPT_GRANT_MS = 2 * 60_000;
/** Authorization-request parameters the BFF sets itself: never taken from the browser's query. */
export const PROTOCOL_LOGIN_PARAMS = [
  'state',
  'nonce',
  'redirect_uri',
  'code_challenge',
  'code_challenge_method',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'scope',
  'response_type',
  'response_mode',
  'request',
  'request_uri',
  'resource',
  'claims',
  'authorization_details',
  'dpop_jkt',
] as const;
const MIN_SECRET_LENGTH = 32;

/** `dpop`, shape-checked (the keys themselves are imported, and checked, by createBff). */
function dpopOptions(dpop: BffDpopOptions | undefined): BffDpopOptions | null {
  if (dpop === undefined) return null;
  if (typeof dpop !== 'object' || dpop === null || typeof dpop.privateKey !== 'object' || dpop.privateKey === null) {
    throw invalid('dpop.privateKey', 'is needed: a private JWK (ES256 or stronger) or { privateKey, publicKey } CryptoKeys');
  }
  if (dpop.previousKeys !== undefined && (!Array.isArray(dpop.previousKeys) || dpop.previousKeys.length > 8)) {
    throw invalid('dpop.previousKeys', 'must be an array of at most 8 keys');
  }
  return { privateKey: dpop.privateKey, previousKeys: [...(dpop.previousKeys ?? [])] };
}
const COOKIE_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const API_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const invalid = (option: string, rule: string) =>
  bffError(BffErrorCode.InvalidOption, `createBff(): option "${option}" ${rule}. To fix the problem, see the README's createBff options.`);

function url(option: string, value: unknown, required: boolean): URL | undefined {
  if (value === undefined && !required) return undefined;
  if (!(value instanceof URL) && typeof value !== 'string') throw invalid(option, 'must be an absolute URL');
  try {
    const parsed = new URL(String(value));
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error();
    return parsed;
  } catch {
    throw invalid(option, 'must be an absolute http(s) URL');
  }
}

function positive(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid(option, 'must be a positive number of milliseconds');
  return value;
}

function nonNegative(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalid(option, 'must be a number of milliseconds, 0 or more');
  return value;
}

/** Wraps `onEvent` so that nothing it does (a throw, a rejection) reaches the BFF; the first failure is logged, without details. */
function isolated(onEvent: BffOptions['onEvent'], logger: { warn(message: string): void }): (event: BffEvent) => void {
  if (!onEvent) return () => undefined;
  let warned = false;
  const report = (err: unknown) => {
    if (warned) return;
    warned = true;
    logger.warn(`ngx-fresh-token/bff: onEvent failed (${err instanceof Error ? err.name : typeof err}); ignored, nothing else changed. (Logged once.)`);
  };
  return (event) => {
    try {
      const result = onEvent(event);
      if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(undefined, report);
    } catch (err) {
      report(err);
    }
  };
}

function stringList(option: string, value: unknown, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) throw invalid(option, 'must be an array of non-empty strings');
  return [...value];
}

const isLoopback = (host: string) => host === 'localhost' || host === '127.0.0.1' || host === '[::1]';

const PROXY_TOKEN_TYPES = ['user', 'user-or-none', 'client', 'user-or-client', 'none'] as const;
/** The longest delay a timer takes (setTimeout's limit). */
const MAX_TIMER_MS = 2_147_483_647;
const PROXY_PATH = /^(?:\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$/;
const METHOD = /^[A-Z]{1,20}$/;

/** Validates one API's `proxy` part (NFT401 naming the option). */
function resolveProxy(name: string, proxy: BffProxyOptions): Omit<ResolvedProxy, 'resource' | 'scope'> {
  const at = `apis.${name}.proxy`;
  if (typeof proxy !== 'object' || proxy === null) throw invalid(at, 'must be an object { path, target, token, methods?, websocket?, timeoutMs?, forwardSetCookie? }');
  for (const field of Object.keys(proxy)) {
    if (!['path', 'target', 'token', 'methods', 'websocket', 'timeoutMs', 'forwardSetCookie', 'forwardHeaders', 'maxMessageBytes'].includes(field)) {
      throw invalid(`${at}.${field.slice(0, 32)}`, 'is not a proxy option');
    }
  }
  const path = proxy.path;
  if (typeof path !== 'string' || !PROXY_PATH.test(path) || path.split('/').some((seg) => seg === '.' || seg === '..')) {
    throw invalid(`${at}.path`, 'must be a path like "/api/orders": segments of unreserved characters, no dot segments, no trailing "/"');
  }
  const target = url(`${at}.target`, proxy.target, true)!;
  if (target.search || target.hash || target.username || target.password) throw invalid(`${at}.target`, 'must be an http(s) URL without query, fragment or credentials');
  if (!(PROXY_TOKEN_TYPES as readonly string[]).includes(proxy.token)) throw invalid(`${at}.token`, `must be one of ${PROXY_TOKEN_TYPES.join(', ')}`);
  const methods = proxy.methods === undefined ? [...DEFAULT_PROXY_METHODS] : stringList(`${at}.methods`, proxy.methods, []);
  if (methods.length === 0 || methods.some((m) => !METHOD.test(m) || m === 'CONNECT' || m === 'TRACE')) {
    throw invalid(`${at}.methods`, 'must be a non-empty list of upper-case HTTP methods (not CONNECT or TRACE)');
  }
  if (proxy.websocket !== undefined && typeof proxy.websocket !== 'boolean') throw invalid(`${at}.websocket`, 'must be a boolean');
  if (proxy.forwardSetCookie !== undefined && typeof proxy.forwardSetCookie !== 'boolean') throw invalid(`${at}.forwardSetCookie`, 'must be a boolean');
  const forwardHeaders = stringList(`${at}.forwardHeaders`, proxy.forwardHeaders, []).map((h) => h.toLowerCase());
  const refused = forwardHeaders.filter((h) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(h) || NEVER_FORWARDED_HEADERS.test(h));
  if (refused.length) throw invalid(`${at}.forwardHeaders`, `must not name credentials, framing or forwarding headers (${refused.join(', ')})`);
  const timeoutMs = positive(`${at}.timeoutMs`, proxy.timeoutMs, DEFAULT_PROXY_TIMEOUT_MS);
  if (timeoutMs > MAX_TIMER_MS) throw invalid(`${at}.timeoutMs`, `must be at most ${MAX_TIMER_MS}`);
  return {
    name,
    path,
    target,
    token: proxy.token,
    methods: new Set(methods),
    websocket: proxy.websocket === true,
    timeoutMs,
    forwardSetCookie: proxy.forwardSetCookie === true,
    forwardHeaders: new Set(forwardHeaders),
    maxMessageBytes: positive(`${at}.maxMessageBytes`, proxy.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES),
  };
}

/** Validates `createBff()` options and fills in the defaults; throws `NFT401` naming the bad option. */
export function resolveBffOptions(options: BffOptions): ResolvedBffOptions {
  if (!options || typeof options !== 'object') throw invalid('options', 'must be an object');
  const logger = options.logger ?? console;
  if (typeof logger.warn !== 'function') throw invalid('logger', 'must have a warn(message) method');

  const issuer = url('issuer', options.issuer, true)!;
  const insecureHttpIssuer = options.dangerouslyAllowInsecureHttpIssuer === true;
  if (issuer.protocol !== 'https:') {
    if (!insecureHttpIssuer) throw invalid('issuer', 'must be an https URL (for a loopback development IdP, set dangerouslyAllowInsecureHttpIssuer: true)');
    if (!isLoopback(issuer.hostname)) {
      logger.warn(`ngx-fresh-token/bff: the issuer ${issuer.origin} is plain http on a host other than localhost; tokens and the client secret cross the network in clear. Use https.`);
    }
  }
  if (typeof options.clientId !== 'string' || options.clientId === '') throw invalid('clientId', 'must be a non-empty string');

  const clientAuthMethod = options.clientAuthMethod ?? 'client_secret_basic';
  if (!['client_secret_basic', 'client_secret_post', 'private_key_jwt'].includes(clientAuthMethod)) {
    throw invalid('clientAuthMethod', "must be 'client_secret_basic', 'client_secret_post' or 'private_key_jwt'");
  }
  let clientPrivateKey: ResolvedBffOptions['clientPrivateKey'];
  if (clientAuthMethod === 'private_key_jwt') {
    const k: unknown = options.clientPrivateKey;
    const wrapped = typeof k === 'object' && k !== null && 'key' in k;
    const key = (wrapped ? (k as { key: unknown }).key : k) as CryptoKey | undefined;
    const kid = wrapped ? (k as { kid?: unknown }).kid : undefined;
    if (typeof key !== 'object' || key === null || key.type !== 'private' || (kid !== undefined && typeof kid !== 'string')) {
      throw invalid('clientPrivateKey', "must be a private CryptoKey (or { key, kid }) for clientAuthMethod 'private_key_jwt'");
    }
    clientPrivateKey = { key, kid: kid as string | undefined };
  } else if (typeof options.clientSecret !== 'string' || options.clientSecret === '') {
    throw invalid('clientSecret', `must be a non-empty string for clientAuthMethod '${clientAuthMethod}'`);
  }

  const redirectUri = url('redirectUri', options.redirectUri, true)!;
  const postLogoutRedirectUri = url('postLogoutRedirectUri', options.postLogoutRedirectUri, false);

  const scope = options.scope ?? DEFAULT_SCOPE;
  if (typeof scope !== 'string' || !scope.split(' ').includes('openid')) throw invalid('scope', 'must be a space-separated string that includes "openid"');
  const resource = options.resource === undefined ? [] : typeof options.resource === 'string' ? [options.resource] : stringList('resource', options.resource, []);
  // RFC 8707 §2: an absolute URI without a fragment; not only http(s) (`urn:` audiences are common).
  for (const r of resource) {
    if (!URL.canParse(r) || r.includes('#')) throw invalid('resource', 'must hold absolute URIs without a fragment (RFC 8707)');
  }

  const apis = new Map<string, Readonly<Omit<BffApiOptions, 'proxy'>> & { proxied: boolean }>();
  const proxies: ResolvedProxy[] = [];
  if (options.apis !== undefined) {
    if (typeof options.apis !== 'object' || options.apis === null || Array.isArray(options.apis)) throw invalid('apis', 'must be an object of { resource?, scope? } by API name');
    for (const [name, api] of Object.entries(options.apis)) {
      if (!API_NAME.test(name)) throw invalid(`apis.${name.slice(0, 64)}`, 'must be named with letters, digits, "-" or "_" (at most 64, a letter first)');
      if (typeof api !== 'object' || api === null) throw invalid(`apis.${name}`, 'must be an object { resource?, scope? }');
      for (const field of Object.keys(api)) if (field !== 'resource' && field !== 'scope' && field !== 'proxy') throw invalid(`apis.${name}.${field.slice(0, 32)}`, 'is not an API option (resource, scope, proxy)');
      if (api.resource !== undefined && (typeof api.resource !== 'string' || !URL.canParse(api.resource) || api.resource.includes('#'))) {
        throw invalid(`apis.${name}.resource`, 'must be an absolute URI without a fragment (RFC 8707)');
      }
      // eslint-disable-next-line no-control-regex
      if (api.scope !== undefined && (typeof api.scope !== 'string' || api.scope.trim() === '' || /[\u0000-\u001f\u007f"\\]/.test(api.scope))) {
        throw invalid(`apis.${name}.scope`, 'must be a non-empty space-separated scope string');
      }
      if (api.resource === undefined && api.scope === undefined && api.proxy === undefined) {
        throw invalid(`apis.${name}`, 'must name a resource, a scope or a proxy (without any it is the default token)');
      }
      const target = { ...(api.resource !== undefined ? { resource: api.resource } : {}), ...(api.scope !== undefined ? { scope: api.scope.trim() } : {}) };
      apis.set(name, { ...target, proxied: api.proxy !== undefined });
      if (api.proxy !== undefined) proxies.push({ ...resolveProxy(name, api.proxy), ...target });
    }
  }

  const store = options.store ?? memorySessionStore({ now: options.now });
  for (const method of ['get', 'set', 'compareAndSet', 'delete', 'findByIndex', 'claimOnce'] as const) {
    if (typeof store?.[method] !== 'function') throw invalid('store', `must implement SessionStore (missing ${method}())`);
  }

  const secrets = options.secrets;
  if (!Array.isArray(secrets) || secrets.length === 0) throw invalid('secrets', 'must be a non-empty array: [current, ...previous]');
  if (secrets.some((s) => typeof s !== 'string' || s.length < MIN_SECRET_LENGTH)) {
    throw invalid('secrets', `must hold strings of at least ${MIN_SECRET_LENGTH} characters (for example 32 random bytes, base64url)`);
  }

  const cookie = options.cookie ?? {};
  const baseName = cookie.name ?? 'nft-session';
  if (typeof baseName !== 'string' || !COOKIE_NAME.test(baseName) || baseName.startsWith('__')) {
    throw invalid('cookie.name', 'must be a cookie token without a __Host-/__Secure- prefix (the BFF adds it)');
  }
  const secureCookies = cookie.dangerouslyAllowInsecureCookies !== true;
  const prefix = secureCookies ? '__Host-' : '';

  const idleMs = positive('session.idleMs', options.session?.idleMs, DEFAULT_IDLE_MS);
  const absoluteMs = positive('session.absoluteMs', options.session?.absoluteMs, DEFAULT_ABSOLUTE_MS);

  const basePath = options.basePath ?? '';
  if (typeof basePath !== 'string' || (basePath !== '' && (!basePath.startsWith('/') || basePath.endsWith('/')))) {
    throw invalid('basePath', 'must be empty or a path starting with "/" and not ending with "/"');
  }
  const routes: BffRoutes = {
    login: `${basePath}/auth/login`,
    callback: redirectUri.pathname,
    logout: `${basePath}/auth/logout`,
    token: `${basePath}/session/token`,
    user: `${basePath}/session/user`,
    backchannelLogout: `${basePath}/auth/backchannel-logout`,
    endSession: `${basePath}/auth/end-session`,
  };

  // Proxy mode keeps a token off the browser only if no token the browser can get carries its audience:
  // a proxied API with user tokens needs a resource of its own (not the default token's, not a
  // non-proxied API's), so its token is minted apart and /session/token never hands it out.
  const browserResources = new Set([...resource, ...[...apis.values()].filter((a) => !a.proxied && a.resource).map((a) => a.resource!)]);
  for (const p of proxies) {
    if (p.token === 'none' || p.token === 'client') continue;
    if (!p.resource) throw invalid(`apis.${p.name}.resource`, 'is needed for a proxied API with user tokens: its token must carry an audience of its own, which no token handed to the browser carries');
    if (browserResources.has(p.resource)) throw invalid(`apis.${p.name}.resource`, 'must differ from the default resource and from every API whose tokens the browser may get');
  }
  for (const p of proxies) {
    if (p.target.protocol === 'http:' && !isLoopback(p.target.hostname)) {
      logger.warn(`ngx-fresh-token/bff: apis.${p.name}.proxy.target is plain http on a host other than localhost; tokens cross the network in clear. Use https.`);
    }
  }
  // A proxied path neither holds nor sits under a BFF route or another proxied path (no shadowing either way).
  const under = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
  for (const p of proxies) {
    for (const route of Object.values(routes)) {
      if (under(route, p.path) || under(p.path, route)) throw invalid(`apis.${p.name}.proxy.path`, `must not overlap the BFF's route ${route}`);
    }
    for (const q of proxies) if (q !== p && (under(q.path, p.path) || under(p.path, q.path))) throw invalid(`apis.${p.name}.proxy.path`, `must not overlap apis.${q.name}.proxy.path`);
  }

  const allowedOrigins = new Set([redirectUri.origin, ...stringList('allowedOrigins', options.allowedOrigins, []).map((o) => url('allowedOrigins', o, true)!.origin)]);
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw invalid('onEvent', 'must be a function');
  if (options.now !== undefined && typeof options.now !== 'function') throw invalid('now', 'must be a function returning epoch ms');
  const forwardedLoginParams = stringList('forwardedLoginParams', options.forwardedLoginParams, ['login_hint']);
  const protocol = forwardedLoginParams.filter((p) => (PROTOCOL_LOGIN_PARAMS as readonly string[]).includes(p.toLowerCase()));
  if (protocol.length) throw invalid('forwardedLoginParams', `must not hold protocol parameters the BFF sets itself (${protocol.join(', ')})`);
  const authorizationParams = options.authorizationParams ?? {};
  if (typeof authorizationParams !== 'object' || Object.values(authorizationParams).some((v) => typeof v !== 'string')) {
    throw invalid('authorizationParams', 'must be an object of string values');
  }

  return {
    issuer,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    clientAuthMethod,
    clientPrivateKey,
    redirectUri,
    postLogoutRedirectUri,
    scope,
    resource: [...resource],
    apis,
    proxies,
    store,
    secrets: [...secrets],
    cookieName: `${prefix}${baseName}`,
    transactionCookiePrefix: `${prefix}${baseName}-tx.`,
    secureCookies,
    idleMs,
    absoluteMs,
    routes,
    userClaims: stringList('userClaims', options.userClaims, DEFAULT_USER_CLAIMS),
    refreshBufferMs: positive('refreshBufferMs', options.refreshBufferMs, 30_000),
    tokenRequestTimeoutMs: positive('tokenRequestTimeoutMs', options.tokenRequestTimeoutMs, 10_000),
    storeTimeoutMs: positive('storeTimeoutMs', options.storeTimeoutMs, 2_000),
    minRefreshIntervalMs: nonNegative('minRefreshIntervalMs', options.minRefreshIntervalMs, DEFAULT_MIN_REFRESH_INTERVAL_MS),
    keptGrantMs: positive('keptGrantMs', options.keptGrantMs, DEFAULT_KEPT_GRANT_MS),
    handOutTokens: options.handOutTokens !== false,
    dpop: dpopOptions(options.dpop),
    allowedOrigins,
    forwardedLoginParams,
    authorizationParams: { ...authorizationParams },
    insecureHttpIssuer,
    onEvent: isolated(options.onEvent, logger),
    logger,
    now: options.now ?? (() => Date.now()),
  };
}
