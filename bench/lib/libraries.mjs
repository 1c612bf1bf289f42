// How each library is set up for the Node benchmarks (JIT: @angular/compiler is loaded), the way
// its docs show: its provider/interceptor, a token it holds, the same authorized API origin.
// `backend` (optional) replaces HttpBackend (a synchronous in-memory one for the per-request
// benchmark); without it requests go over real HTTP (`withFetch()`) to the loopback server.
// `token` is what the library holds at the start: a JWT from bench/lib/token-server.mjs.
import '@angular/compiler';
import {
  HttpBackend,
  HttpClient,
  HttpErrorResponse,
  provideHttpClient,
  withFetch,
  withInterceptors,
  withInterceptorsFromDi,
} from '@angular/common/http';
import {
  DOCUMENT,
  Injector,
  PLATFORM_ID,
  RendererFactory2,
  createEnvironmentInjector,
  importProvidersFrom,
  provideZonelessChangeDetection,
  ɵConsole,
  ɵINJECTOR_SCOPE,
} from '@angular/core';
import { provideLocationMocks } from '@angular/common/testing';
import { provideRouter } from '@angular/router';
import { catchError, firstValueFrom, throwError } from 'rxjs';
import { AuthService, freshTokenInterceptor, provideFreshToken, withAuthorizedUrls, withTokenSource } from 'ngx-fresh-token';
import { JwtModule } from '@auth0/angular-jwt';
import { MemoryStorage, OAuthService, OAuthStorage, provideOAuthClient } from 'angular-oauth2-oidc';
import Keycloak from 'keycloak-js';
import {
  INCLUDE_BEARER_TOKEN_INTERCEPTOR_CONFIG,
  createInterceptorCondition,
  includeBearerTokenInterceptor,
  provideKeycloak,
} from 'keycloak-angular';
import { AbstractSecurityStorage, ConfigurationService, LogLevel, OidcSecurityService, authInterceptor, provideAuth } from 'angular-auth-oidc-client';
import { jwtExp, makeJwt } from './token-server.mjs';

/** The page the app runs on (document.location); the API is on another origin, as usual. */
export const PAGE = 'http://localhost:4200/';
// What the libraries read from DOCUMENT here: location, baseURI, and (angular-oauth2-oidc on
// destroy, looking for its silent-refresh iframe) getElementById.
const fakeDocument = () => ({ location: new URL(PAGE), baseURI: PAGE, getElementById: () => null });
const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function injectorFor(providers, backend) {
  return createEnvironmentInjector(
    [
      { provide: ɵINJECTOR_SCOPE, useValue: 'root' },
      provideZonelessChangeDetection(),
      { provide: DOCUMENT, useValue: fakeDocument() },
      { provide: PLATFORM_ID, useValue: 'browser' },
      ...providers,
      ...(backend ? [{ provide: HttpBackend, useValue: backend }] : []),
    ],
    Injector.NULL,
  );
}

const http = (backend, ...features) => (backend ? provideHttpClient(...features) : provideHttpClient(withFetch(), ...features));

/**
 * Each entry: `setup({ api, server, backend, token })` → `{ injector, http, counters, ...handles }`.
 * `api` is the API origin+path prefix the token is for; `server` the loopback token server.
 */
export const LIBRARIES = [
  {
    name: 'ngx-fresh-token',
    label: 'ngx-fresh-token (freshTokenInterceptor)',
    async setup({ api, server, backend, token }) {
      const counters = { sourceCalls: 0 };
      const injector = injectorFor(
        [
          http(backend, withInterceptors([freshTokenInterceptor])),
          provideFreshToken(
            withTokenSource({
              // The OAuth refresh-token grant against the loopback server (the same one keycloak-js uses).
              getToken: async () => {
                counters.sourceCalls++;
                const res = await fetch(server.tokenUrl, {
                  method: 'POST',
                  headers: { 'content-type': 'application/x-www-form-urlencoded' },
                  body: 'grant_type=refresh_token&refresh_token=refresh-0&client_id=spa',
                });
                const body = await res.json();
                return { accessToken: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
              },
            }),
            withAuthorizedUrls(api),
          ),
        ],
        backend,
      );
      const auth = injector.get(AuthService);
      // As after a sign-in response that already held the access token.
      auth.setGrant({ accessToken: token, expiresAt: jwtExp(token) * 1000 });
      return { injector, http: injector.get(HttpClient), counters, auth };
    },
  },
  {
    name: '@auth0/angular-jwt',
    label: '@auth0/angular-jwt (JwtInterceptor, tokenGetter)',
    async setup({ api, backend, token }) {
      const counters = { tokenGetterCalls: 0 };
      const injector = injectorFor(
        [
          http(backend, withInterceptorsFromDi()),
          importProvidersFrom(
            JwtModule.forRoot({
              config: {
                tokenGetter: () => {
                  counters.tokenGetterCalls++;
                  return token;
                },
                allowedDomains: [new URL(api).host],
              },
            }),
          ),
        ],
        backend,
      );
      return { injector, http: injector.get(HttpClient), counters };
    },
  },
  {
    name: 'angular-oauth2-oidc',
    label: 'angular-oauth2-oidc (DefaultOAuthInterceptor, sendAccessToken)',
    async setup({ api, server, backend, token }) {
      const storage = new MemoryStorage();
      const injector = injectorFor(
        [
          http(backend, withInterceptorsFromDi()),
          provideOAuthClient({ resourceServer: { allowedUrls: [api], sendAccessToken: true } }),
          { provide: OAuthStorage, useValue: storage },
        ],
        backend,
      );
      const oauth = injector.get(OAuthService);
      oauth.configure({
        tokenEndpoint: server.tokenUrl,
        clientId: 'spa',
        scope: 'openid offline_access api',
        responseType: 'code',
        oidc: false,
        requireHttps: false,
        redirectUri: PAGE,
      });
      // What storeAccessTokenResponse() writes after a code-flow sign-in.
      storage.setItem('access_token', token);
      storage.setItem('refresh_token', 'refresh-0');
      storage.setItem('access_token_stored_at', String(Date.now()));
      storage.setItem('expires_at', String(jwtExp(token) * 1000));
      storage.setItem('granted_scopes', JSON.stringify(['openid', 'offline_access', 'api']));
      return { injector, http: injector.get(HttpClient), counters: {}, oauth };
    },
  },
  {
    name: 'keycloak-angular',
    label: 'keycloak-angular + keycloak-js (includeBearerTokenInterceptor)',
    async setup({ api, server, backend, token }) {
      // keycloak-js warns outside a secure context (a browser page on https or localhost).
      globalThis.isSecureContext ??= true;
      const injector = injectorFor(
        [
          provideKeycloak({ config: { url: server.origin, realm: 'bench', clientId: 'spa' } }),
          {
            provide: INCLUDE_BEARER_TOKEN_INTERCEPTOR_CONFIG,
            useValue: [createInterceptorCondition({ urlPattern: new RegExp(`^${escapeRegExp(api)}(/.*)?$`, 'i'), bearerPrefix: 'Bearer' })],
          },
          http(backend, withInterceptors([includeBearerTokenInterceptor])),
        ],
        backend,
      );
      const keycloak = injector.get(Keycloak);
      // keycloak-js is browser code: init() reads window.location.href (for a login callback), and
      // every new token arms window.setTimeout for onTokenExpired (keycloak-angular sets it). A
      // minimal window stays for the process (unref'ed timers, so Node can exit); nothing else
      // measured here reads window. Given a token and a refresh token with checkLoginIframe off,
      // init() refreshes once through the token endpoint (the loopback server).
      globalThis.window ??= {
        location: new URL(PAGE),
        history: { state: null, replaceState() {} },
        setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
      };
      await keycloak.init({ token, refreshToken: makeJwt({ lifetimeSec: 1800 }), checkLoginIframe: false, pkceMethod: 'S256', enableLogging: false });
      return { injector, http: injector.get(HttpClient), counters: {}, keycloak };
    },
  },
  {
    name: 'angular-auth-oidc-client',
    label: 'angular-auth-oidc-client (authInterceptor)',
    async setup({ api, server, backend, token }) {
      // sessionStorage semantics (strings), in memory: the library's default is sessionStorage. It
      // reads nothing unless the Web Storage API exists (`typeof Storage`), which plain Node lacks.
      globalThis.Storage ??= class Storage {};
      const map = new Map();
      const storage = {
        read: (key) => map.get(key) ?? null,
        write: (key, value) => void map.set(key, value),
        remove: (key) => void map.delete(key),
        clear: () => map.clear(),
      };
      const injector = injectorFor(
        [
          http(backend, withInterceptors([authInterceptor()])),
          provideAuth({
            config: {
              authority: server.origin,
              authWellknownEndpoints: {
                issuer: server.origin,
                tokenEndpoint: server.tokenUrl,
                authorizationEndpoint: `${server.origin}/authorize`,
                jwksUri: `${server.origin}/jwks`,
              },
              redirectUrl: PAGE,
              clientId: 'spa',
              scope: 'openid offline_access api',
              responseType: 'code',
              silentRenew: true,
              useRefreshToken: true,
              secureRoutes: [`${api}/`],
              logLevel: LogLevel.None,
              // The loopback server's tokens are unsigned: no ID token signature to check.
              disableIdTokenValidation: true,
              autoUserInfo: false,
            },
          }),
          { provide: AbstractSecurityStorage, useValue: storage },
          // OidcSecurityService (for forceRefreshSession) needs the Router, and a DOM renderer for
          // its iframe silent-renew listeners (unused with refresh tokens): a stub renderer here.
          provideRouter([]),
          provideLocationMocks(),
          { provide: ɵConsole, useValue: console },
          { provide: RendererFactory2, useValue: { createRenderer: () => ({ listen: () => () => {} }) } },
        ],
        backend,
      );
      const configs = injector.get(ConfigurationService);
      const { currentConfig } = await firstValueFrom(configs.getOpenIDConfigurations());
      // What the library keeps in storage after a code-flow sign-in (as a reload finds it).
      const stored = JSON.parse(storage.read(currentConfig.configId) ?? '{}');
      Object.assign(stored, {
        authzData: token,
        authnResult: { access_token: token, id_token: token, refresh_token: 'refresh-0', expires_in: jwtExp(token) - Math.floor(Date.now() / 1000) },
        access_token_expires_at: jwtExp(token) * 1000,
      });
      storage.write(currentConfig.configId, JSON.stringify(stored));
      return { injector, http: injector.get(HttpClient), counters: {}, oidc: () => injector.get(OidcSecurityService) };
    },
  },
];

/** HttpClient without any auth library: the reference the per-request overhead is measured against. */
export const PLAIN = {
  name: 'HttpClient alone',
  label: 'HttpClient, no interceptor',
  async setup({ backend }) {
    const injector = injectorFor([http(backend)], backend);
    return { injector, http: injector.get(HttpClient), counters: {} };
  },
};

/**
 * The physical floor of "attach a token" (issue #24): interceptors that do only what cannot be
 * avoided — clone the request and set the header — and, for the first, watch for a 401 with one
 * `catchError` (rethrowing it: a floor has nobody to ask for a new token). No URL check, no token
 * lifetime, no single flight: what any interceptor that attaches a header costs at least.
 */
export const FLOORS = [
  {
    name: 'floor',
    label: 'floor: clone + set header + one catchError (401)',
    async setup({ backend, token }) {
      const floor = (req, next) =>
        next(req.clone({ setHeaders: { Authorization: `Bearer ${token}` } })).pipe(
          catchError((err) => (err instanceof HttpErrorResponse && err.status === 401 ? throwError(() => err) : throwError(() => err))),
        );
      const injector = injectorFor([http(backend, withInterceptors([floor]))], backend);
      return { injector, http: injector.get(HttpClient), counters: {} };
    },
  },
  {
    name: 'floor without catchError',
    label: 'floor: clone + set header',
    async setup({ backend, token }) {
      const floor = (req, next) => next(req.clone({ setHeaders: { Authorization: `Bearer ${token}` } }));
      const injector = injectorFor([http(backend, withInterceptors([floor]))], backend);
      return { injector, http: injector.get(HttpClient), counters: {} };
    },
  },
];
