import { HttpErrorResponse } from '@angular/common/http';
import { Component, EnvironmentProviders, PLATFORM_ID, Provider, REQUEST, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { CanActivateFn, CanMatchFn, Route, Router, Routes, UrlSegment, UrlTree, provideRouter } from '@angular/router';
import { FreshTokenTestingController, createTestJwt, flushMicrotasks, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { AuthService } from './auth.service';
import { FreshTokenError, FreshTokenErrorCode } from './errors';
import { SIGNED_IN_GUARD_RETURN_URL_PARAM, signedInGuard } from './guard';
import { FreshTokenFeature, withRefreshRetry, withTokenSource } from './provider';
import { withApiToken } from './api-token';
import { ɵSERVER_HALF, ɵserverHalf } from './server-render';

@Component({ template: 'page' })
class Page {}

/** Routes with the guard as `canActivate` on /dashboard and as `canMatch` on /reports/daily (nested). */
function guardedRoutes(guard: CanActivateFn & CanMatchFn): Routes {
  return [
    { path: 'login', component: Page },
    { path: 'auth/sign-in', component: Page },
    { path: 'dashboard', component: Page, canActivate: [guard] },
    { path: 'reports', children: [{ path: 'daily', component: Page, canMatch: [guard] }] },
  ];
}

function setup(options: { routes?: Routes; features?: FreshTokenFeature[]; providers?: Array<Provider | EnvironmentProviders> } = {}) {
  TestBed.configureTestingModule({
    providers: [
      provideZonelessChangeDetection(),
      provideFreshTokenTesting(...(options.features ?? [])),
      provideRouter(options.routes ?? guardedRoutes(signedInGuard())),
      ...(options.providers ?? []),
    ],
  });
  return { router: TestBed.inject(Router), ctrl: TestBed.inject(FreshTokenTestingController), auth: TestBed.inject(AuthService) };
}

function returnUrlOf(router: Router, url: string): string | undefined {
  return router.parseUrl(url).queryParams[SIGNED_IN_GUARD_RETURN_URL_PARAM];
}

describe('signedInGuard() as canActivate', () => {
  it('lets a signed-in user through after one load of the session, then from memory', async () => {
    const { router, ctrl } = setup();
    expect(await router.navigateByUrl('/dashboard')).toBeTrue();
    expect(router.url).toBe('/dashboard');
    expect(ctrl.requests).toEqual([{ forceRefresh: false }]);

    await router.navigateByUrl('/login');
    expect(await router.navigateByUrl('/dashboard')).toBeTrue();
    expect(ctrl.refreshCount).withContext('the second check used the token in memory').toBe(1);
  });

  it('waits for the first load of the session before deciding', async () => {
    const { router, ctrl } = setup();
    ctrl.latencyMs = 500;
    let settled = false;
    const navigation = router.navigateByUrl('/dashboard').finally(() => (settled = true));
    await flushMicrotasks();
    expect(ctrl.refreshCount).toBe(1);
    expect(settled).withContext('still waiting for the source').toBeFalse();
    expect(router.url).toBe('/');

    await ctrl.advance(500);
    expect(await navigation).toBeTrue();
    expect(router.url).toBe('/dashboard');
  });

  it('sends a signed-out user to /login with the attempted URL (path, query, fragment) in returnUrl', async () => {
    const { router, ctrl } = setup();
    ctrl.signedInAtSource = false;
    await router.navigateByUrl('/dashboard?tab=2&q=a%20b#top');
    expect(router.url.startsWith('/login?')).withContext(router.url).toBeTrue();
    expect(returnUrlOf(router, router.url)).toBe('/dashboard?tab=2&q=a%20b#top');
    // The login page hands the value back to the router once the user has signed in.
    ctrl.signedInAtSource = true;
    await TestBed.inject(AuthService).refresh();
    await router.navigateByUrl(returnUrlOf(router, router.url)!);
    expect(router.url).toBe('/dashboard?tab=2&q=a%20b#top');
  });

  it('waits for a slow "signed out" answer, then redirects', async () => {
    const { router, ctrl } = setup();
    ctrl.signedInAtSource = false;
    ctrl.latencyMs = 300;
    const navigation = router.navigateByUrl('/dashboard');
    await ctrl.advance(299);
    expect(router.url).toBe('/');
    await ctrl.advance(1);
    await navigation;
    expect(router.url).toBe('/login?returnUrl=%2Fdashboard');
  });

  it('keeps the query parameters of redirectTo and adds returnUrl to them', async () => {
    const { router, ctrl } = setup({ routes: guardedRoutes(signedInGuard({ redirectTo: '/auth/sign-in?lang=fr' })) });
    ctrl.signedInAtSource = false;
    await router.navigateByUrl('/dashboard');
    expect(router.url).toBe('/auth/sign-in?lang=fr&returnUrl=%2Fdashboard');
  });

  it('counts a session the source ended (permanent failure) as signed out', async () => {
    const { router, ctrl, auth } = setup();
    ctrl.failNextRefresh(new HttpErrorResponse({ status: 401, statusText: 'Unauthorized' }));
    await router.navigateByUrl('/dashboard');
    expect(router.url).toBe('/login?returnUrl=%2Fdashboard');
    expect(auth.state().error?.code).toBe(FreshTokenErrorCode.SessionEnded);
  });

  it('lets the user through when a refresh fails transiently while the current token is still valid', async () => {
    const { router, ctrl } = setup({ features: [withRefreshRetry({ maxAttempts: 1 })] });
    ctrl.setToken({ expiresInSeconds: 5 }); // inside the buffer: the guard's check refreshes first
    ctrl.failNextRefresh(); // 503
    expect(await router.navigateByUrl('/dashboard')).toBeTrue();
    expect(router.url).toBe('/dashboard');
    expect(ctrl.refreshCount).toBe(1);
  });

  it('counts a transient failure with no token to fall back on as signed out', async () => {
    const { router, ctrl } = setup({ features: [withRefreshRetry({ maxAttempts: 1 })] });
    ctrl.failNextRefresh(); // 503 on the first load
    await router.navigateByUrl('/dashboard');
    expect(router.url).toBe('/login?returnUrl=%2Fdashboard');
  });

  it('counts an expired token the source cannot refresh as signed out', async () => {
    const { router, ctrl } = setup({ features: [withRefreshRetry({ maxAttempts: 1 })] });
    ctrl.setToken({ expiresInSeconds: 5 });
    await ctrl.advance(6_000);
    ctrl.failNextRefresh();
    await router.navigateByUrl('/dashboard');
    expect(router.url).toBe('/login?returnUrl=%2Fdashboard');
  });

  it('never redirects the redirect target to itself (a guarded login page stays reachable)', async () => {
    const guard = signedInGuard();
    let checks = 0;
    // Bounded, so that a regression shows up as a failure rather than an endless redirect.
    const counted: CanActivateFn = (route, state) => (++checks > 5 ? false : guard(route, state));
    const { router, ctrl } = setup({ routes: [{ path: 'login', component: Page, canActivate: [counted] }] });
    ctrl.signedInAtSource = false;
    expect(await router.navigateByUrl('/login?returnUrl=%2Fx')).toBeTrue();
    expect(router.url).toBe('/login?returnUrl=%2Fx');
    expect(checks).toBe(1);
  });
});

describe('signedInGuard() as canMatch', () => {
  it('lets a signed-in user match the route', async () => {
    const { router } = setup();
    expect(await router.navigateByUrl('/reports/daily')).toBeTrue();
    expect(router.url).toBe('/reports/daily');
  });

  it('redirects a signed-out user with the whole attempted URL, parent path and query included', async () => {
    const { router, ctrl } = setup();
    ctrl.signedInAtSource = false;
    await router.navigateByUrl('/reports/daily?day=mon');
    expect(router.url.startsWith('/login?')).withContext(router.url).toBeTrue();
    expect(returnUrlOf(router, router.url)).toBe('/reports/daily?day=mon');
  });

  it('outside a navigation, builds the attempted URL from the segments being matched', async () => {
    const { ctrl } = setup();
    ctrl.signedInAtSource = false;
    const guard = signedInGuard();
    const segments = [new UrlSegment('reports', {}), new UrlSegment('q 1', {})];
    const result = await TestBed.runInInjectionContext(() => guard({ path: 'reports/:id' } as Route, segments, undefined as never));
    expect(result instanceof UrlTree).toBeTrue();
    expect((result as UrlTree).queryParams[SIGNED_IN_GUARD_RETURN_URL_PARAM]).toBe('/reports/q%201');
  });
});

describe('signedInGuard() on the server platform', () => {
  it('with a request but no session context: renders the guarded route and never asks the token source (the browser decides)', async () => {
    const { router, ctrl, auth } = setup({
      providers: [
        { provide: PLATFORM_ID, useValue: 'server' },
        { provide: REQUEST, useValue: new Request('https://app.example.com/dashboard') },
        // What a server build gives (this browser build of the specs has no server half by itself).
        { provide: ɵSERVER_HALF, useValue: ɵserverHalf },
      ],
    });
    ctrl.signedInAtSource = false;
    expect(await router.navigateByUrl('/dashboard')).toBeTrue();
    expect(router.url).toBe('/dashboard');
    expect(await router.navigateByUrl('/reports/daily')).toBeTrue();
    expect(ctrl.refreshCount).toBe(0);
    expect(auth.state().status).toBe('signed-out');
  });
});

describe('signedInGuard() configuration errors', () => {
  it('NFT105 for a redirectTo that is not a URL of this app', () => {
    for (const bad of ['login', 'https://evil.test/login', '//evil.test', '/\\evil.test', '', 42]) {
      let error: unknown;
      try {
        signedInGuard({ redirectTo: bad as string });
      } catch (e) {
        error = e;
      }
      expect(error instanceof FreshTokenError && error.code).withContext(String(bad)).toBe(FreshTokenErrorCode.InvalidOption);
    }
    expect(() => signedInGuard({ redirectTo: '/sign-in?x=1' })).not.toThrow();
    expect(() => signedInGuard(undefined)).not.toThrow();
  });

  it('NFT106 when the app has no provideFreshToken()', () => {
    TestBed.configureTestingModule({ providers: [provideZonelessChangeDetection(), provideRouter([])] });
    const guard = signedInGuard();
    let error: unknown;
    try {
      TestBed.runInInjectionContext(() => guard({} as Route, [], undefined as never));
    } catch (e) {
      error = e;
    }
    expect(error instanceof FreshTokenError && error.code).toBe(FreshTokenErrorCode.NotProvided);
  });
});

describe('signedInGuard({ apiToken }) with tokens per API', () => {
  /** A named token "reports" whose source is signed in or not. */
  function reports(signedIn: { value: boolean }) {
    return withApiToken(
      'reports',
      ['https://reports.example.com'],
      withTokenSource({ getToken: async () => (signedIn.value ? { accessToken: createTestJwt({ expiresInSeconds: 3600 }) } : null) }),
    );
  }

  it('decides by the named token: through when it is signed in, whatever the default token says', async () => {
    const signedIn = { value: true };
    const { router, ctrl } = setup({ routes: guardedRoutes(signedInGuard({ apiToken: 'reports' })), features: [reports(signedIn)] });
    ctrl.signedInAtSource = false;
    expect(await router.navigateByUrl('/dashboard')).toBeTrue();
    expect(router.url).toBe('/dashboard');
    expect(ctrl.refreshCount).withContext('the default token was not asked').toBe(0);
  });

  it('and redirects when the named token is signed out, while the default one is signed in', async () => {
    const signedIn = { value: false };
    const { router, ctrl } = setup({ routes: guardedRoutes(signedInGuard({ apiToken: 'reports' })), features: [reports(signedIn)] });
    ctrl.setToken();
    await router.navigateByUrl('/dashboard');
    expect(router.url).toBe('/login?returnUrl=%2Fdashboard');
  });

  it('an unknown name is NFT111 when the guard runs', async () => {
    const { router } = setup({ routes: guardedRoutes(signedInGuard({ apiToken: 'nope' })) });
    await expectAsync(router.navigateByUrl('/dashboard')).toBeRejectedWith(jasmine.objectContaining({ code: 'NFT111' }));
  });
});
