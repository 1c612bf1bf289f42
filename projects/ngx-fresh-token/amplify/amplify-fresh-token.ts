import { isPlatformServer } from '@angular/common';
import {
  DestroyRef,
  EnvironmentProviders,
  Injectable,
  InjectionToken,
  PLATFORM_ID,
  inject,
  makeEnvironmentProviders,
  provideAppInitializer,
  provideEnvironmentInitializer,
} from '@angular/core';
import * as amplifyRoot from 'aws-amplify';
import { Amplify, type AmplifyContext, type ResourcesConfig } from 'aws-amplify';
import { type TokenProvider } from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import { Hub, defaultStorage, parseAmplifyConfig } from 'aws-amplify/utils';
import { EMPTY, Observable } from 'rxjs';
import { AuthService, FRESH_TOKEN_CLOCK, FreshTokenError, injectAuth } from 'ngx-fresh-token';
import { warnIfInChildInjector } from './child-injector-warning';
import { AmplifyFreshTokenErrorCode, amplifyError } from './errors';
import { FreshEventsOptions, connectFreshEvents } from './events-connection';
import { publishFreshEvents } from './events-publish';
import { AMPLIFY_LINK } from './amplify-link';
import { GraphqlHeadersOptions, createGraphqlHeaders } from './graphql-headers';
import { graphqlWithRetry } from './graphql-retry';
import { injectRefreshBufferMs } from './refresh-buffer';
import { createFreshTokenProvider } from './token-provider';

/**
 * Amplify's library options (the second argument of `Amplify.configure`).
 *
 * @example
 * const libraryOptions: AmplifyLibraryOptions = { ssr: true };
 * provideAmplifyFreshToken(outputs, { libraryOptions });
 */
export type AmplifyLibraryOptions = NonNullable<Parameters<typeof Amplify.configure>[1]>;

/**
 * Options of {@link provideAmplifyFreshToken}.
 *
 * @example
 * const options: AmplifyFreshTokenOptions = { graphqlHeaders: { token: 'id' }, tokenProvider: true };
 */
export interface AmplifyFreshTokenOptions {
  /** Install the GraphQL `headers` function (default `{}`: access token in `Authorization`); `false` to leave Amplify's headers alone. */
  graphqlHeaders?: GraphqlHeadersOptions | false;
  /**
   * Make AuthService Amplify's `TokenProvider` (default `false`), so `fetchAuthSession`, GraphQL and
   * Events in `userPool`/`oidc` modes use its token, from any source. Cognito sign-in keeps working:
   * while AuthService holds no token, Amplify gets its own Cognito session (in the browser only).
   */
  tokenProvider?: boolean;
  /** Other Amplify library options (SSR, REST/GraphQL settings); `Auth` is replaced when `tokenProvider` is set. */
  libraryOptions?: AmplifyLibraryOptions;
  /**
   * Whether the app initializer calls {@link AmplifyFreshToken.configure} in the browser (default
   * `true`). `false`: nothing touches the global `Amplify` by itself — call `configure()` when you are
   * ready (for example once a config loaded at run time is in), or use only
   * `generateClient(amplify.context)`. It also tells a route's providers, where app initializers never
   * run, that this is on purpose (no `NFT506` warning). The server never configures the global `Amplify`.
   */
  configureAmplify?: boolean;
  /**
   * The token whose service the pieces are bound to, by its name in `withApiToken()` (default: the
   * app's default token): `provideAmplifyFreshToken(outputs, { apiToken: 'appsync' })` with
   * `withApiToken('appsync', [/\.appsync-api\./], withAmplifyTokenSource())`. Events renew by
   * `renewBeforeExpiryMs` when given, else by the app's default refresh buffer.
   */
  apiToken?: string;
}

interface AmplifyFreshTokenConfig {
  resourcesConfig: ResourcesConfig | Parameters<typeof Amplify.configure>[0];
  options: AmplifyFreshTokenOptions;
}

const AMPLIFY_FRESH_TOKEN_CONFIG = new InjectionToken<AmplifyFreshTokenConfig>((typeof ngDevMode === 'undefined' || ngDevMode) ? 'AMPLIFY_FRESH_TOKEN_CONFIG' : '');

/**
 * The Amplify pieces bound to the app's {@link AuthService}: the GraphQL `headers` function, the
 * retry-once GraphQL wrapper and the `TokenProvider` bridge. Provided by {@link provideAmplifyFreshToken}.
 *
 * @example
 * const amplify = inject(AmplifyFreshToken);
 * const result = await amplify.graphql((headers) => client.graphql({ query: listTodos }, headers));
 */
@Injectable()
export class AmplifyFreshToken {
  private readonly config = inject(AMPLIFY_FRESH_TOKEN_CONFIG);
  private readonly auth: AuthService = injectAuth(this.config.options.apiToken);
  private readonly clock = inject(FRESH_TOKEN_CLOCK);
  private readonly link = inject(AMPLIFY_LINK);
  private readonly destroyRef = inject(DestroyRef);
  private readonly refreshBufferMs = injectRefreshBufferMs();
  private readonly isServer = isPlatformServer(inject(PLATFORM_ID, { optional: true }) ?? 'unknown');
  private readonly headersOptions: GraphqlHeadersOptions = this.config.options.graphqlHeaders || {};
  /** Set once `configure()` wired Cognito's own provider (a Cognito user pool is configured). */
  private cognitoWired = false;
  private listening = false;

  /** Amplify's `API.GraphQL.headers` function: a fresh token in the configured header. */
  readonly headers: () => Promise<Record<string, string>> = createGraphqlHeaders(this.auth, this.headersOptions);

  /**
   * An Amplify `TokenProvider` answering with the service's fresh token; while the service holds
   * none, with Amplify's own Cognito session (browser only: on a server that session is the process's).
   */
  readonly tokenProvider: TokenProvider = createFreshTokenProvider(
    this.auth,
    this.isServer ? {} : { whenSignedOut: { getTokens: (o) => (this.cognitoWired ? cognitoUserPoolsTokenProvider.getTokens(o) : Promise.resolve(null)) } },
  );

  private ownContext: AmplifyContext | null = null;

  /**
   * An Amplify context of this app alone, to generate GraphQL clients from:
   * `generateClient(amplify.context)` (from `aws-amplify/api`). It carries this app's GraphQL `headers`
   * function and the `TokenProvider` bridge, so its clients send this {@link AuthService}'s token in
   * every auth mode (`userPool`, `oidc`, `lambda`) — and nothing of it goes into the process-wide
   * `Amplify`. On the server platform this is **the** way to call GraphQL: each render has its own
   * injector, hence its own context, and concurrent renders of different users never share a token.
   * In the browser it works the same (Amplify's global configuration keeps serving `generateClient()`
   * and Amplify's own APIs). Created on first read with aws-amplify's `createAmplifyContext()`
   * (aws-amplify ≥ 6.22; with an older one it throws `NFT505`).
   *
   * @example
   * const client = generateClient(inject(AmplifyFreshToken).context);
   * const { data } = await client.graphql({ query: listTodos });
   */
  get context(): AmplifyContext {
    return (this.ownContext ??= this.createContext());
  }

  private createContext(): AmplifyContext {
    // A namespace read, not a named import: with aws-amplify < 6.22 (no createAmplifyContext) the rest of
    // this entry keeps working, and only this getter says what is missing.
    const create = (amplifyRoot as { createAmplifyContext?: typeof amplifyRoot.createAmplifyContext }).createAmplifyContext;
    if (typeof create !== 'function') {
      throw amplifyError(
        AmplifyFreshTokenErrorCode.ServerConfigure,
        'AmplifyFreshToken.context needs createAmplifyContext() from aws-amplify 6.22 or later. To fix the problem, upgrade aws-amplify; ' +
          'until then, on the server only amplify.graphql((headers) => client.graphql({ ..., authMode: \'lambda\' }, headers)) sends a token, per call.',
      );
    }
    const { resourcesConfig, options } = this.config;
    const library: AmplifyLibraryOptions = { ...options.libraryOptions };
    if (options.graphqlHeaders !== false) {
      library.API = { ...library.API, GraphQL: { ...library.API?.GraphQL, headers: this.headers } };
    }
    // Always the bridge here: the context exists to carry this AuthService's token (Amplify's own
    // Cognito session stays with the global configuration). A credentials provider given in the options is kept.
    library.Auth = { ...library.Auth, tokenProvider: this.tokenProvider };
    return create(resourcesConfig as ResourcesConfig, library);
  }

  /**
   * Runs a GraphQL call with a fresh token and retries it once after a 401 (see {@link graphqlWithRetry}).
   *
   * @example
   * await amplify.graphql((headers) => client.graphql({ query: getTodo, variables: { id } }, headers));
   */
  graphql<T>(send: (headers: Record<string, string>) => Promise<T>): Promise<T> {
    return graphqlWithRetry(this.auth, send, this.headersOptions);
  }

  /**
   * Subscribes to an AppSync Events channel with fresh tokens (see {@link connectFreshEvents}):
   * renewed when the connect token enters the app's refresh buffer (`withRefreshBuffer()`),
   * reconnected with a refreshed token after an auth failure, closed with `NFT502` on sign-out.
   * Endpoint and auth mode default to Amplify's `API.Events` configuration. On the server platform
   * (SSR) it completes at once and opens no socket.
   *
   * @example
   * amplify.events<ChatMessage>('/default/chat').subscribe((m) => messages.update((all) => [...all, m]));
   */
  events<T = unknown>(channel: string, options: FreshEventsOptions = {}): Observable<T> {
    if (this.isServer) return EMPTY;
    return new Observable<T>((subscriber) =>
      connectFreshEvents<T>(this.auth, channel, this.eventsOptions(options), this.clock).subscribe(subscriber),
    );
  }

  /**
   * Publishes events to an AppSync Events channel over HTTP with a fresh token, retrying once after a 401.
   *
   * @example
   * await amplify.publish('/default/chat', [{ text: 'hello' }]);
   */
  publish(channel: string, events: unknown[], options: FreshEventsOptions = {}): Promise<void> {
    return Promise.resolve().then(() => publishFreshEvents(this.auth, channel, events, this.eventsOptions(options), this.clock));
  }

  private eventsOptions(options: FreshEventsOptions): FreshEventsOptions & { endpoint: string } {
    // On the server the process-wide Amplify is not this app's: read this app's own configuration.
    const configured = (this.isServer ? parseAmplifyConfig(this.config.resourcesConfig as ResourcesConfig) : Amplify.getConfig()).API?.Events;
    const endpoint = options.endpoint ?? configured?.endpoint;
    if (!endpoint) {
      throw new FreshTokenError(
        AmplifyFreshTokenErrorCode.EventsNotConfigured,
        (typeof ngDevMode === 'undefined' || ngDevMode) ? 'No AppSync Events endpoint. To fix the problem, pass { endpoint } or configure API.Events.endpoint in provideAmplifyFreshToken().' : '',
      );
    }
    const mode = configured?.defaultAuthMode;
    const authMode = options.authMode ?? (mode === 'lambda' || mode === 'oidc' ? mode : 'userPool');
    return { ...options, endpoint, authMode, renewBeforeExpiryMs: options.renewBeforeExpiryMs ?? this.refreshBufferMs };
  }

  /**
   * Calls `Amplify.configure` with the GraphQL `headers` function and, when asked, the
   * `TokenProvider` bridge. In the browser, when the service's source is
   * `withAmplifyTokenSource()`, it also follows Amplify's sign-in and sign-out (Hub `auth` events)
   * until the injector is destroyed. Run once by the app initializer of {@link provideAmplifyFreshToken}
   * in the browser.
   *
   * On the server platform it throws `NFT505` and touches nothing: `Amplify` is one object per Node
   * process, so functions bound to one render's AuthService would serve every concurrent render (one
   * user's token on another user's page). Use `generateClient(amplify.context)` there.
   *
   * @example
   * inject(AmplifyFreshToken).configure();
   */
  configure(): void {
    if (this.isServer) {
      throw amplifyError(
        AmplifyFreshTokenErrorCode.ServerConfigure,
        'AmplifyFreshToken.configure() refuses to run on the server: Amplify is one object per Node process, so this render\'s ' +
          'token would reach every concurrent render. To fix the problem, generate GraphQL clients from the render\'s own ' +
          'context: generateClient(inject(AmplifyFreshToken).context), and call configure() in the browser only.',
      );
    }
    const { resourcesConfig, options } = this.config;
    const library: AmplifyLibraryOptions = { ...options.libraryOptions };
    if (options.graphqlHeaders !== false) {
      library.API = { ...library.API, GraphQL: { ...library.API?.GraphQL, headers: this.headers } };
    }
    if (options.tokenProvider) {
      library.Auth = { ...library.Auth, tokenProvider: this.tokenProvider };
    }
    Amplify.configure(resourcesConfig as ResourcesConfig, library);
    const auth = Amplify.getConfig().Auth;
    if (options.tokenProvider && auth?.Cognito) {
      // With a custom tokenProvider Amplify skips wiring its Cognito provider, and signIn() then
      // fails with "Auth UserPool not configured": wire it here so Cognito sign-in keeps working.
      cognitoUserPoolsTokenProvider.setAuthConfig(auth);
      cognitoUserPoolsTokenProvider.setKeyValueStorage(defaultStorage);
      this.cognitoWired = true;
    }
    this.followAmplifyAuth();
  }

  /**
   * With Amplify as the source, Amplify's own sign-in and sign-out are the service's too: after
   * `signIn()` the service loads the new session (no `auth.refresh()` needed), after Amplify's
   * `signOut()` it stops handing out the old token. Browser only (a server's Hub is process-wide).
   */
  private followAmplifyAuth(): void {
    if (this.listening || this.isServer || !this.link.amplifySource) return;
    this.listening = true;
    const stop = Hub.listen('auth', ({ payload }) => {
      if (payload.event === 'signedIn') {
        // A failure is already on `events$` and in `state`; nobody awaits this refresh.
        this.auth.refresh().catch(() => undefined);
      } else if (payload.event === 'signedOut' && this.auth.state().token !== null) {
        // Our own source.signOut() signs out of Amplify too; by then the service holds no token, so this does not loop.
        void this.auth.signOut();
      }
    });
    this.destroyRef.onDestroy(stop);
  }
}

/**
 * Provides {@link AmplifyFreshToken} bound to the app's {@link AuthService} and, in the browser,
 * configures Amplify during app initialization with its pieces: the GraphQL `headers` function and,
 * with `tokenProvider: true`, the `TokenProvider` bridge. Use it instead of calling `Amplify.configure`
 * yourself; add `provideFreshToken(...)` with a source (for example `withAmplifyTokenSource()`) too.
 * On the server it configures nothing process-wide: GraphQL goes through `generateClient(amplify.context)`,
 * one context per render. Put it in the application's providers: in a route's providers its app
 * initializer never runs (dev mode warns once, `NFT506`, unless `configureAmplify: false`).
 *
 * @example
 * providers: [
 *   provideFreshToken(withAmplifyTokenSource({ token: 'access' })),
 *   provideAmplifyFreshToken(outputs, { graphqlHeaders: { token: 'id' } }),
 * ]
 */
export function provideAmplifyFreshToken(
  resourcesConfig: AmplifyFreshTokenConfig['resourcesConfig'],
  options: AmplifyFreshTokenOptions = {},
): EnvironmentProviders {
  return makeEnvironmentProviders([
    { provide: AMPLIFY_FRESH_TOKEN_CONFIG, useValue: { resourcesConfig, options } },
    { provide: AMPLIFY_LINK, useFactory: () => ({ bridged: options.tokenProvider === true, amplifySource: false }) },
    AmplifyFreshToken,
    provideAppInitializer(() => {
      // The server never configures the process-wide Amplify: renders use their own context.
      if (options.configureAmplify === false || isPlatformServer(inject(PLATFORM_ID, { optional: true }) ?? 'unknown')) return;
      inject(AmplifyFreshToken).configure();
    }),
    provideEnvironmentInitializer(() => {
      if ((typeof ngDevMode === 'undefined' || ngDevMode) && options.configureAmplify !== false) warnIfInChildInjector();
    }),
  ]);
}
