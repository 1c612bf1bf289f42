import { EnvironmentProviders, inject, makeEnvironmentProviders, Provider, provideEnvironmentInitializer, ValueProvider } from '@angular/core';
import { DEFAULT_REFRESH_RETRY, RefreshRetryPolicy } from './backoff';
import { FreshTokenFeature, FreshTokenFeatureKind, ɵfeature, ɵvalidRetryPolicy } from './feature';
import { AuthService } from './auth.service';
import { ɵREQUEST_POLICY, ɵcreateRequestPolicy } from './request-policy';
import { CrossTabSyncOptions, ɵcrossTabFactory } from './cross-tab';
import { ɵautoRefreshFactory } from './auto-refresh';
import { ɵAUTH_HEADER, ɵAUTHORIZED_URLS, ɵAUTO_REFRESH, ɵCROSS_TAB, ɵFRESH_TOKEN_SOURCE, ɵMIN_VALIDITY_MS, FRESH_TOKEN_REFRESH_BUFFER_MS, ɵREFRESH_RETRY } from './config';
import { DEFAULT_REFRESH_BUFFER_MS } from './lifetime';
import { ɵerror } from './errors';
import type { TokenSource } from './token';
import { compileUrlMatcher, UrlMatcher } from './url-matcher';
import { ɵSERVER_HALF } from './server-render';

/**
 * Sets up ngx-fresh-token: provides {@link AuthService} configured by the given features.
 * Exactly one token source is required; each feature kind may appear once.
 *
 * @example
 * bootstrapApplication(App, { providers: [
 *   provideFreshToken(withTokenSource(mySource), withAuthorizedUrls('/', 'https://api.example.com')),
 *   provideHttpClient(withInterceptors([freshTokenInterceptor])),
 * ]});
 */
export function provideFreshToken(...features: FreshTokenFeature[]): EnvironmentProviders {
  const kinds = features.map((f) => f.ɵkind);
  if (new Set(kinds).size < kinds.length) {
    throw ɵerror(
      'NFT102',
      (typeof ngDevMode === 'undefined' || ngDevMode)
        ? `provideFreshToken() got the ${((k: FreshTokenFeatureKind | string) => (typeof k === 'string' ? `${k.replace(':', ' "')}"` : Object.keys(FreshTokenFeatureKind)[k]))(kinds.find((k, i) => kinds.indexOf(k) < i)!)} feature twice, which is a contradiction. To fix the problem, keep one.`
        : '',
    );
  }
  // Kinds as literals (FreshTokenFeatureKind.MinValidity = 5, RefreshBuffer = 1, TokenSource = 0):
  // an app that never names the enum does not ship it.
  const featureOf = (kind: FreshTokenFeatureKind) => features[kinds.indexOf(kind)];
  const valueOf = (kind: FreshTokenFeatureKind) => (featureOf(kind)?.ɵproviders[0] as ValueProvider | undefined)?.useValue;
  const minValidityMs: number | undefined = valueOf(5);
  const bufferMs: number = valueOf(1) ?? DEFAULT_REFRESH_BUFFER_MS;
  if (minValidityMs !== undefined && minValidityMs > bufferMs) {
    throw ɵerror(
      'NFT107',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? `withMinValidity(${minValidityMs}) is above the refresh buffer (${bufferMs} ms): a token would have to wait before its refresh even starts. To fix the problem, lower it or raise withRefreshBuffer().` : '',
    );
  }
  const source = featureOf(0);
  if (!source) {
    throw ɵerror(
      'NFT101',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'No TokenSource configured. To fix the problem, add withTokenSource(...) (or a source from ngx-fresh-token/oauth or /amplify) to provideFreshToken().' : '',
    );
  }
  return makeEnvironmentProviders([
    // A class without @Injectable: no factory metadata in the bundle, and none of Angular's ɵ
    // declarations in the published .d.ts. The constructor uses inject(), so a factory suffices.
    { provide: AuthService, useFactory: () => new AuthService() },
    { provide: ɵREQUEST_POLICY, useFactory: ɵcreateRequestPolicy },
    // The source's own providers (it may bring withServerRendering()) first: the app's features win.
    source.ɵproviders,
    features.map((f) => (f === source ? [] : f.ɵproviders)),
    // A render that knows the request's session sets its cache headers and leaves the snapshot even
    // when no component asks for a token (server builds only: browser builds have no server half).
    provideEnvironmentInitializer(() => {
      if (inject(ɵSERVER_HALF)?.knowsSession()) inject(AuthService);
    }),
  ]);
}

/**
 * Sets where tokens come from: a {@link TokenSource}, or a factory run in an injection
 * context (so it can `inject()` what it needs). `providers` are provided beside it — the
 * services an integration's source is made of (its options, its session class) — and may hold the
 * features the source needs, such as `withServerRendering()` for a source that serves server
 * renders (features the app passes to `provideFreshToken()` itself take precedence).
 *
 * @example
 * withTokenSource(() => { const http = inject(HttpBackend); return { getToken: () => ... }; })
 * withTokenSource(() => inject(MySession), [MySession, { provide: MY_OPTIONS, useValue: options }, withServerRendering()])
 */
export function withTokenSource(
  source: TokenSource | (() => TokenSource),
  providers: Array<Provider | FreshTokenFeature> = [],
): FreshTokenFeature<typeof FreshTokenFeatureKind.TokenSource> {
  if (typeof source !== 'function' && typeof source?.getToken !== 'function') {
    throw ɵerror('NFT105', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withTokenSource() takes an object with a getToken() method, or a factory returning one.' : '');
  }
  return ɵfeature(0 /* TokenSource */, [
    { provide: ɵFRESH_TOKEN_SOURCE, useFactory: typeof source === 'function' ? source : () => source },
    ...providers.map((p) => (p && 'ɵproviders' in p ? (p as FreshTokenFeature).ɵproviders : p)),
  ]);
}

/** `ms` when it is a finite number of milliseconds >= 0; otherwise throws `code` with `message`. */
function validMs(ms: number, code: string, message: string): number {
  if (!(Number.isFinite(ms) && ms >= 0)) throw ɵerror(code, message);
  return ms;
}

/**
 * Sets how long before expiry a token counts as expiring and is refreshed (default 30 000 ms).
 *
 * @example
 * withRefreshBuffer(60_000)
 */
export function withRefreshBuffer(ms: number): FreshTokenFeature<typeof FreshTokenFeatureKind.RefreshBuffer> {
  return ɵfeature(1 /* RefreshBuffer */, [
    {
      provide: FRESH_TOKEN_REFRESH_BUFFER_MS,
      useValue: validMs(ms, 'NFT103', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withRefreshBuffer() takes a finite number of milliseconds >= 0, e.g. withRefreshBuffer(30_000).' : ''),
    },
  ]);
}

/**
 * Sets the least validity a token must have left to be sent without waiting (default 10 000 ms,
 * or the refresh buffer when that is shorter; `0`: until expiry). Between the buffer and this,
 * requests go out at once with the current token while one shared refresh runs in the background;
 * below it they wait for the refresh. Must not exceed the refresh buffer (`NFT107`).
 *
 * @example
 * withMinValidity(5_000)
 */
export function withMinValidity(ms: number): FreshTokenFeature<typeof FreshTokenFeatureKind.MinValidity> {
  return ɵfeature(5 /* MinValidity */, [
    {
      provide: ɵMIN_VALIDITY_MS,
      useValue: validMs(ms, 'NFT107', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withMinValidity() takes a finite number of milliseconds >= 0, no more than the refresh buffer, e.g. withMinValidity(10_000).' : ''),
    },
  ]);
}

/**
 * Refreshes by itself, without waiting for a request, when the token enters the refresh buffer,
 * while the page is visible (browser only; never on the server). A page that becomes visible
 * with its token inside the buffer, or expired, refreshes at once. Off by default: it keeps an
 * idle user's session alive, which an app should choose knowingly.
 *
 * @example
 * provideFreshToken(withTokenSource(source), withAutoRefresh())
 */
export function withAutoRefresh(): FreshTokenFeature<typeof FreshTokenFeatureKind.AutoRefresh> {
  return ɵfeature(6 /* AutoRefresh */, [{ provide: ɵAUTO_REFRESH, useFactory: ɵautoRefreshFactory }]);
}

/**
 * One refresh per browser, one sign-out for every tab: refreshes run under a Web Lock and a
 * BroadcastChannel carries the new token (or the sign-out, or the session's end) to the other tabs
 * of the same origin, which adopt it without calling their source; a tab that opens asks the
 * running tabs first. Works with every token source. Where Web Locks or BroadcastChannel are
 * missing (the server, old browsers, Node) each tab works on its own, with no error.
 *
 * @example
 * provideFreshToken(withTokenSource(source), withCrossTabSync({ name: 'my-app' }))
 */
export function withCrossTabSync(options: CrossTabSyncOptions = {}): FreshTokenFeature<typeof FreshTokenFeatureKind.CrossTabSync> {
  const { name, adoptTimeoutMs } = options ?? {};
  if ((name !== undefined && (typeof name !== 'string' || name === '')) || (adoptTimeoutMs !== undefined && !(Number.isFinite(adoptTimeoutMs) && adoptTimeoutMs >= 0))) {
    throw ɵerror('NFT105', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withCrossTabSync() takes { name?: non-empty string, adoptTimeoutMs?: finite number >= 0 }.' : '');
  }
  return ɵfeature(7 /* CrossTabSync */, [{ provide: ɵCROSS_TAB, useFactory: ɵcrossTabFactory({ ...options }) }]);
}

/**
 * Sets which request URLs get the token, replacing the default (the app's own origin only).
 * Strings are URL prefixes matched on the parsed URL (origin, then whole path segments);
 * `'/'` stands for the app's own origin.
 *
 * @example
 * withAuthorizedUrls('/', 'https://api.example.com/v1', (url) => url.hostname.endsWith('.internal.example.com'))
 */
export function withAuthorizedUrls(...matchers: UrlMatcher[]): FreshTokenFeature<typeof FreshTokenFeatureKind.AuthorizedUrls> {
  if (matchers.length === 0) {
    throw ɵerror('NFT104', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withAuthorizedUrls() needs at least one matcher.' : '');
  }
  // Validate now, so a typo fails at bootstrap rather than silently sending no token.
  matchers.forEach((m) => compileUrlMatcher(m, 'https://ngx-fresh-token.invalid/'));
  return ɵfeature(2 /* AuthorizedUrls */, [{ provide: ɵAUTHORIZED_URLS, useValue: matchers }]);
}

/**
 * Sets the headers that carry the token (default `Authorization: Bearer <token>`).
 *
 * @example
 * withAuthHeader((token) => ({ 'X-Api-Token': token }))
 */
export function withAuthHeader(format: (token: string) => Record<string, string>): FreshTokenFeature<typeof FreshTokenFeatureKind.AuthHeader> {
  if (typeof format !== 'function') throw ɵerror('NFT105', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withAuthHeader() takes a function (token) => headers.' : '');
  return ɵfeature(3 /* AuthHeader */, [{ provide: ɵAUTH_HEADER, useValue: format }]);
}

/**
 * Tunes how failed refreshes are retried (attempts, delays, total time, per-attempt timeout).
 *
 * @example
 * withRefreshRetry({ maxAttempts: 3, maxTotalMs: 20_000 })
 */
export function withRefreshRetry(policy: Partial<RefreshRetryPolicy>): FreshTokenFeature<typeof FreshTokenFeatureKind.RefreshRetry> {
  const merged = ɵvalidRetryPolicy({ ...DEFAULT_REFRESH_RETRY, ...policy }, 'withRefreshRetry()');
  return ɵfeature(4 /* RefreshRetry */, [{ provide: ɵREFRESH_RETRY, useValue: merged }]);
}

export { FreshTokenFeatureKind } from './feature';
export type { FreshTokenFeature } from './feature';
