import { HttpBackend, HttpClient, HttpErrorResponse, provideHttpClient, withFetch, withInterceptors } from '@angular/common/http';
import { isPlatformServer } from '@angular/common';
import { ApplicationConfig, PLATFORM_ID, inject, provideZonelessChangeDetection } from '@angular/core';
import { provideClientHydration, withEventReplay } from '@angular/platform-browser';
import { provideRouter } from '@angular/router';
import { TokenGrant, TokenSource, freshTokenInterceptor, provideFreshToken, withTokenSource } from 'ngx-fresh-token';
import { firstValueFrom } from 'rxjs';
import { routes } from './app.routes';
import { requestLogInterceptor } from './request-log';

/**
 * The backend-for-frontend holds the session in an http-only cookie; this source asks its
 * `/session/token` endpoint for short-lived access tokens. On the server it answers "signed out",
 * so no token is ever rendered into HTML.
 */
function sessionEndpointSource(): TokenSource {
  const http = new HttpClient(inject(HttpBackend)); // skips the interceptors
  const onServer = isPlatformServer(inject(PLATFORM_ID));
  return {
    async getToken({ forceRefresh }) {
      if (onServer) return null;
      try {
        return await firstValueFrom(http.post<TokenGrant>('/session/token', { forceRefresh }));
      } catch (err) {
        if (err instanceof HttpErrorResponse && err.status === 401) return null;
        throw err;
      }
    },
    async signOut() {
      if (!onServer) await firstValueFrom(http.post('/auth/logout', null));
    },
  };
}

export const appConfig: ApplicationConfig = {
  providers: [
    provideZonelessChangeDetection(),
    provideRouter(routes),
    provideClientHydration(withEventReplay()),
    // The log interceptor runs after ours, so it sees every attempt, retries included.
    provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor, requestLogInterceptor])),
    provideFreshToken(withTokenSource(sessionEndpointSource)),
  ],
};
