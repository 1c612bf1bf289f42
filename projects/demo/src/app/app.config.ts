import { FetchBackend, HttpBackend, provideHttpClient, withFetch, withInterceptors } from '@angular/common/http';
import { ApplicationConfig, inject, provideZonelessChangeDetection } from '@angular/core';
import { provideClientHydration, withEventReplay } from '@angular/platform-browser';
import { provideRouter } from '@angular/router';
import { freshTokenInterceptor, provideFreshToken, withApiToken, withAutoRefresh, withBffProxy, withCrossTabSync } from 'ngx-fresh-token';
import { withSessionEndpoint } from 'ngx-fresh-token/oauth';
import { routes } from './app.routes';
import { SessionTokenAnswers, recordingBackend, requestLogInterceptor } from './request-log';
import { REPORTS_API_RULE } from './reports-api';

export const appConfig: ApplicationConfig = {
  providers: [
    provideZonelessChangeDetection(),
    provideRouter(routes),
    provideClientHydration(withEventReplay()),
    // The log interceptor runs after ours, so it sees every attempt, retries included.
    provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor, requestLogInterceptor])),
    // Records which demo instance answered each /session/token (npm run demo:cluster); passes all through.
    { provide: HttpBackend, useFactory: () => recordingBackend(inject(FetchBackend), inject(SessionTokenAnswers)) },
    // The backend-for-frontend keeps the session (refresh token) in an http-only cookie and hands
    // out short-lived access tokens; on the server this source answers "signed out", so no token
    // is ever rendered into HTML. Auto refresh renews the token as it enters the buffer while the
    // page is visible; cross-tab sync makes that one refresh per browser, and tabs that open later
    // adopt the running tabs' token instead of asking the server.
    provideFreshToken(
      withSessionEndpoint({ url: '/session/token', signOutUrl: '/auth/logout' }),
      withAutoRefresh(),
      withCrossTabSync(),
      // Tokens per API: the reports API (another origin) gets a token of its own, with its own
      // audience and only reports:read, from /session/token?api=reports; the default token (same
      // origin only) never goes there, and the reports token never goes to the app's own API.
      withApiToken('reports', [REPORTS_API_RULE], withSessionEndpoint({ api: 'reports' }), withAutoRefresh(), withCrossTabSync()),
      // The orders API is reached through the BFF's proxy: X-CSRF and the cookie, never a token (#26).
      withBffProxy('/api/orders'),
    ),
  ],
};
