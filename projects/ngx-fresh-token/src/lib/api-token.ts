// Tokens per API (`withApiToken()`): each named token is a full AuthService in an environment
// injector of its own, a child of the app's, made of the features given to it — its own source,
// state, single flight, cool-down, epochs and 401 handling — and reached by URL rules ranked across
// every token (url-rules.ts). Everything here comes into an app through withApiToken() or injectAuth()
// only: an app without them ships none of it.
import {
  DestroyRef,
  EnvironmentInjector,
  EnvironmentProviders,
  InjectionToken,
  Provider,
  createEnvironmentInjector,
  inject,
  provideEnvironmentInitializer,
} from '@angular/core';
import { AuthService } from './auth.service';
import {
  FRESH_TOKEN_REFRESH_BUFFER_MS,
  ɵAUTH_HEADER,
  ɵAUTHORIZED_URLS,
  ɵFRESH_TOKEN_SOURCE,
  ɵMIN_VALIDITY_MS,
  ɵOPTIONAL,
  ɵREFRESH_RETRY,
  ɵSIGN_OUT_ALSO,
  ɵTOKEN_NAME,
} from './config';
import { type FreshTokenError, ɵerror } from './errors';
import { FreshTokenFeature, FreshTokenFeatureKind, ɵfeature } from './feature';
import { DEFAULT_REFRESH_BUFFER_MS } from './lifetime';
import { provideFreshToken } from './provider';
import { ɵREQUEST_POLICY, ɵRequestPolicy, ɵpageBase } from './request-policy';
import { ɵcreateRoutedPolicy, ɵTOKEN_ROUTER } from './routed-policy';
import { FRESH_TOKEN_SERVER_SESSION, ɵSERVER_HALF } from './server-render';
import type { TokenSource } from './token';
import { ApiUrlRule, ɵcheckApiRules, ɵcompileTokenRules } from './url-rules';

/** What one `withApiToken()` declares. */
interface ApiTokenDefinition {
  name: string;
  rules: readonly ApiUrlRule[];
  providers: EnvironmentProviders;
}

/** @internal The named tokens of one `provideFreshToken()`. */
export interface ɵApiTokens {
  /** The service of the token `name`, or `null` when no `withApiToken()` declares it. */
  auth(name: string): AuthService | null;
  /** The request policy of the token a request gets, from the default token's policy (`null`: it has no token, proxy-only mode) and every named one's. */
  router(defaultPolicy: ɵRequestPolicy | null): (url: string, method: string) => ɵRequestPolicy | null;
  /** Ends every named token (the default service's sign-out): each source's `signOut()` once. */
  signOut(): Promise<unknown>;
  /** Drops every named token, calling no source (the default session ended otherwise: expired with `error`, or in another tab). */
  end(error?: FreshTokenError): void;
}

/** @internal Every `withApiToken()` of one `provideFreshToken()`, in declaration order (multi). */
const ɵAPI_TOKEN_DEFINITIONS = /* @__PURE__ */ new InjectionToken<ApiTokenDefinition[]>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'API_TOKEN_DEFINITIONS' : '');

/** @internal The named tokens (`withApiToken()`), beside the default `AuthService`; absent without them. */
export const ɵAPI_TOKENS = /* @__PURE__ */ new InjectionToken<ɵApiTokens>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'API_TOKENS' : '');

/**
 * Declares a named token for the APIs its URL rules match: an {@link AuthService} of its own, with
 * the same features `provideFreshToken()` takes — a token source (required), refresh buffer, min
 * validity, auth header, retry policy, auto refresh, cross-tab sync, server rendering — and none of
 * the default token's. It has its own state, streams, single flight, cool-down and 401 handling: one
 * token's refresh never waits for another's. Get it with {@link injectAuth}.
 *
 * Which token a request gets (the interceptor decides once per URL): among prefix and path rules of
 * all tokens the longest matching prefix wins (on the same prefix, a rule limited to methods before
 * one that is not); RegExp and function rules rank below every prefix rule, in declaration order (the
 * default token's `withAuthorizedUrls()` first, then each `withApiToken()` in the order given); a URL
 * no rule matches gets no token. The same-origin default belongs to the default token, and only
 * without `withAuthorizedUrls()`. Two tokens with the same prefix and methods are a startup error
 * (`NFT112`); dev mode warns once (`NFT113`) when one URL matched the rules of two tokens.
 *
 * A 401 is retried once with a new token of the token the request carried. The default service's
 * `signOut()` ends every token; a named token's `signOut()` ends that token only. Throws `NFT105`
 * for a name other than 1–64 letters, digits, `_`, `.` or `-`, `NFT104` for rules it cannot read,
 * and what `provideFreshToken()` throws for its features (`NFT101` without a source, `NFT102`, `NFT107`).
 *
 * @example
 * provideFreshToken(
 *   withSessionEndpoint({ url: '/session/token' }),              // the default token
 *   withAuthorizedUrls('/api'),
 *   withApiToken('reports', ['https://reports.example.com', { url: '/api/reports', methods: ['GET'] }],
 *     withSessionEndpoint({ url: '/session/token', api: 'reports' }), withRefreshBuffer(60_000)),
 * )
 */
export function withApiToken(name: string, urls: readonly ApiUrlRule[], ...features: FreshTokenFeature[]): FreshTokenFeature<typeof FreshTokenFeatureKind.ApiToken> {
  if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name)) {
    throw ɵerror('NFT105', (typeof ngDevMode === 'undefined' || ngDevMode) ? 'withApiToken() takes a name of 1–64 letters, digits, "_", "." or "-", e.g. withApiToken("reports", [...], source).' : '');
  }
  ɵcheckApiRules(urls);
  // The URL rules are the second argument; a token inside a token, or a proxy, has no meaning.
  if (features.some((f) => typeof f?.ɵkind !== 'number' || f.ɵkind === 2 /* AuthorizedUrls */ || f.ɵkind === 10 /* BffProxy */)) {
    throw ɵerror(
      'NFT105',
      (typeof ngDevMode === 'undefined' || ngDevMode)
        ? `withApiToken("${name}") takes the features of one token (a source, withRefreshBuffer(), withAuthHeader(), …); its URL rules are its second argument, so withAuthorizedUrls(), withApiToken() and withBffProxy() do not belong inside it.`
        : '',
    );
  }
  // provideFreshToken()'s own checks, now: a source, each feature once, min validity within the buffer.
  const definition: ApiTokenDefinition = { name, rules: [...urls], providers: provideFreshToken(...features) };
  return ɵfeature<typeof FreshTokenFeatureKind.ApiToken>(`ApiToken:${name}`, [
    { provide: ɵAPI_TOKEN_DEFINITIONS, multi: true, useValue: definition },
    { provide: ɵAPI_TOKENS, useFactory: createApiTokens },
    { provide: ɵTOKEN_ROUTER, useFactory: () => inject(ɵAPI_TOKENS).router },
    { provide: ɵREQUEST_POLICY, useFactory: ɵcreateRoutedPolicy },
    {
      provide: ɵSIGN_OUT_ALSO,
      useFactory: () => {
        const injector = inject(EnvironmentInjector);
        return (signOut: boolean, error?: FreshTokenError) => (signOut ? injector.get(ɵAPI_TOKENS).signOut() : injector.get(ɵAPI_TOKENS).end(error));
      },
    },
    // At startup: a conflict between the tokens' rules is an error then, not at the first request.
    provideEnvironmentInitializer(() => void inject(ɵAPI_TOKENS)) as unknown as Provider,
  ]);
}

/**
 * Returns the {@link AuthService} of the token `name` declared with {@link withApiToken}, or, without a
 * name, the app's default one (`inject(AuthService)`). Call it in an injection context. Throws a
 * {@link FreshTokenError} `NFT111` when no `withApiToken()` of this injector declares `name`.
 *
 * @example
 * const reports = injectAuth('reports');
 * const token = await reports.getValidToken();
 * const reportsStatus = computed(() => reports.state().status); // 'fresh', 'expiring', … — never log the token itself
 */
export function injectAuth(name?: string): AuthService {
  if (name === undefined) return inject(AuthService);
  const auth = inject(ɵAPI_TOKENS, ɵOPTIONAL)?.auth(name);
  if (!auth) {
    throw ɵerror(
      'NFT111',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? `injectAuth("${name}"): no withApiToken("${name}", …) in provideFreshToken() of this injector. To fix the problem, declare it, or check the name.` : '',
    );
  }
  return auth;
}

/** Makes the named tokens of this `provideFreshToken()`: one child injector each, and their rules in one table. */
function createApiTokens(): ɵApiTokens {
  const parent = inject(EnvironmentInjector);
  const definitions = inject(ɵAPI_TOKEN_DEFINITIONS);
  // In a render that knows the session, relative URLs resolve against the configured origin (and a
  // render for another origin sends no token at all: `null`); in the browser, against the page.
  const serverOrigin = inject(ɵSERVER_HALF)?.origin();
  const [base, origin] = serverOrigin ? [`${serverOrigin}/`, serverOrigin] : ɵpageBase();
  const defaultRules = inject(ɵAUTHORIZED_URLS, ɵOPTIONAL);
  const children = new Map<string, EnvironmentInjector>();
  for (const { name, providers } of definitions) {
    children.set(
      name,
      createEnvironmentInjector(
        [
          { provide: ɵTOKEN_NAME, useValue: name },
          // A named token takes none of the default token's settings: the defaults, unless its own features say otherwise.
          { provide: FRESH_TOKEN_REFRESH_BUFFER_MS, useValue: DEFAULT_REFRESH_BUFFER_MS },
          { provide: ɵMIN_VALIDITY_MS, useValue: null },
          { provide: ɵAUTH_HEADER, useValue: null },
          { provide: ɵREFRESH_RETRY, useValue: null },
          { provide: ɵAUTHORIZED_URLS, useValue: null },
          { provide: FRESH_TOKEN_SERVER_SESSION, useValue: null },
          providers,
        ],
        parent,
        (typeof ngDevMode === 'undefined' || ngDevMode) ? `ngx-fresh-token ${name}` : undefined,
      ),
    );
  }
  let destroyed = false;
  inject(DestroyRef).onDestroy(() => {
    destroyed = true;
    children.forEach((child) => child.destroy());
  });
  // The rules of every token in one table, now: a conflict is a startup error. The default token's rules come first.
  let routing: ɵRequestPolicy | null = null;
  const decide = ɵcompileTokenRules<ɵRequestPolicy | null>(
    [
      { name: null, rules: defaultRules, target: () => routing },
      ...definitions.map(({ name, rules }) => ({ name, rules, target: () => children.get(name)!.get(ɵREQUEST_POLICY) })),
    ],
    base,
    origin,
  );
  return {
    auth: (name) => (!destroyed && children.get(name)?.get(AuthService)) || null,
    router: (defaultPolicy) => {
      routing = defaultPolicy;
      return serverOrigin === null ? () => null : decide;
    },
    signOut: () => {
      if (destroyed) return Promise.resolve();
      // Each source once: a named token whose source another token has already signed out is only dropped.
      const seen = new Set<TokenSource | null>([parent.get(ɵFRESH_TOKEN_SOURCE, null)]);
      return Promise.all(
        [...children.values()].map((child) => {
          const auth = child.get(AuthService);
          const source = child.get(ɵFRESH_TOKEN_SOURCE);
          if (seen.has(source)) return auth.ɵend();
          seen.add(source);
          return auth.signOut();
        }),
      );
    },
    end: (error) => {
      if (!destroyed) children.forEach((child) => child.get(AuthService).ɵend(error));
    },
  };
}

export type { ApiUrlRule } from './url-rules';
