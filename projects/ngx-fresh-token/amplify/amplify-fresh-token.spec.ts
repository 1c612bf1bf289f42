import { EnvironmentInjector, PLATFORM_ID, Provider, createEnvironmentInjector, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { Hub } from 'aws-amplify/utils';
import { FreshTokenError, withApiToken, withTokenSource } from 'ngx-fresh-token';
import { FreshTokenTestingController, createTestJwt, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { AmplifyFreshToken, AmplifyFreshTokenOptions, provideAmplifyFreshToken } from './amplify-fresh-token';
import { ɵresetChildInjectorWarning } from './child-injector-warning';
import { AmplifyFreshTokenErrorCode } from './errors';

const GRAPHQL = { API: { GraphQL: { endpoint: 'https://api.example.test/graphql', region: 'local', defaultAuthMode: 'oidc' as const } } };

function setup(options: AmplifyFreshTokenOptions = {}, providers: Provider[] = []) {
  TestBed.configureTestingModule({
    providers: [provideZonelessChangeDetection(), provideFreshTokenTesting(), provideAmplifyFreshToken(GRAPHQL, options), ...providers],
  });
  return { amplify: TestBed.inject(AmplifyFreshToken), ctrl: TestBed.inject(FreshTokenTestingController) };
}

/** A route's injector: a child of the application's, with its own providers. */
const routeInjector = (options: AmplifyFreshTokenOptions = {}) =>
  createEnvironmentInjector([provideFreshTokenTesting(), provideAmplifyFreshToken(GRAPHQL, options)], TestBed.inject(EnvironmentInjector));

describe('provideAmplifyFreshToken', () => {
  let warn: jasmine.Spy;
  beforeEach(() => {
    ɵresetChildInjectorWarning();
    warn = spyOn(console, 'warn');
  });
  const nft506 = () => warn.calls.allArgs().filter((args) => String(args[0]).startsWith(AmplifyFreshTokenErrorCode.NotConfiguredInChildInjector));

  it('warns once (NFT506) in dev mode when it sits in route providers, where its app initializer never configures', () => {
    setup();
    expect(nft506()).toEqual([]);
    routeInjector();
    routeInjector();
    expect(nft506().length).toBe(1);
    expect(String(nft506()[0][0])).toContain('configureAmplify: false');
  });

  it('does not warn in the application providers, for a route that says configureAmplify: false, or on the server', () => {
    setup();
    routeInjector({ configureAmplify: false });
    expect(nft506()).toEqual([]);
    TestBed.resetTestingModule();
    setup({}, [{ provide: PLATFORM_ID, useValue: 'server' }]);
    routeInjector();
    expect(nft506()).toEqual([]);
  });

  it('context: clients generated from it send this AuthService\'s token (headers and TokenProvider), whatever the auth mode', async () => {
    const { amplify, ctrl } = setup();
    const token = ctrl.setToken({ expiresInSeconds: 3600 });
    const context = amplify.context;
    expect(amplify.context).toBe(context, 'one context per injector');
    expect(context.resourcesConfig.API?.GraphQL?.endpoint).toBe(GRAPHQL.API.GraphQL.endpoint);
    const headers = context.libraryOptions.API?.GraphQL?.headers as () => Promise<Record<string, string>>;
    expect(await headers()).toEqual({ Authorization: token });
    expect((await context.fetchAuthSession()).tokens?.accessToken.toString()).toBe(token);
  });

  it('a route injector has a context of its own, bound to its own AuthService', async () => {
    const { amplify, ctrl } = setup();
    const appToken = ctrl.setToken({ expiresInSeconds: 3600 });
    const route = routeInjector({ configureAmplify: false });
    const routeToken = route.get(FreshTokenTestingController).setToken({ expiresInSeconds: 3600 });
    expect(routeToken).not.toBe(appToken);
    const tokenOf = async (a: AmplifyFreshToken) => (await a.context.fetchAuthSession()).tokens?.accessToken.toString();
    expect(await tokenOf(route.get(AmplifyFreshToken))).toBe(routeToken);
    expect(await tokenOf(amplify)).toBe(appToken);
  });

  it('on the server the app initializer leaves the process-wide Amplify alone, and configure() refuses with NFT505', () => {
    const configures: unknown[] = [];
    const stop = Hub.listen('core', ({ payload }) => payload.event === 'configure' && configures.push(payload));
    try {
      const { amplify } = setup({ tokenProvider: true }, [{ provide: PLATFORM_ID, useValue: 'server' }]);
      expect(configures).toEqual([]);
      let error: FreshTokenError | undefined;
      try {
        amplify.configure();
      } catch (e) {
        error = e as FreshTokenError;
      }
      expect(error?.code).toBe(AmplifyFreshTokenErrorCode.ServerConfigure);
      expect(error?.message).toContain('generateClient(inject(AmplifyFreshToken).context)');
      expect(configures).toEqual([]);
    } finally {
      stop();
    }
  });

  it('in the browser the app initializer configures Amplify once, unless configureAmplify: false', () => {
    const configures: unknown[] = [];
    const stop = Hub.listen('core', ({ payload }) => payload.event === 'configure' && configures.push(payload));
    try {
      setup();
      expect(configures.length).toBe(1);
      TestBed.resetTestingModule();
      setup({ configureAmplify: false });
      expect(configures.length).toBe(1);
    } finally {
      stop();
    }
  });
});

describe('provideAmplifyFreshToken({ apiToken }) with tokens per API', () => {
  it('binds the GraphQL headers, the TokenProvider and the context to the named token, not the default one', async () => {
    let named = '';
    TestBed.configureTestingModule({
      providers: [
        provideZonelessChangeDetection(),
        provideFreshTokenTesting(
          withApiToken('appsync', ['https://api.example.test/graphql'], withTokenSource({ getToken: async () => ({ accessToken: (named = createTestJwt({ expiresInSeconds: 3600, claims: { aud: 'appsync' } })) }) })),
        ),
        provideAmplifyFreshToken(GRAPHQL, { apiToken: 'appsync', configureAmplify: false }),
      ],
    });
    const defaultToken = TestBed.inject(FreshTokenTestingController).setToken({ expiresInSeconds: 3600 });
    const amplify = TestBed.inject(AmplifyFreshToken);
    expect(await amplify.headers()).toEqual({ Authorization: named });
    expect(named).not.toBe(defaultToken);
    expect((await amplify.context.fetchAuthSession()).tokens?.accessToken.toString()).toBe(named);
  });
});
