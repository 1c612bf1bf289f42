// The one TestBed harness of the core specs: the real AuthService on the testing entry's fake
// source and clock, HttpClient with the interceptor over HttpTestingController, and the events
// collected. A helper file, not a spec: the library build leaves it out.
import { HttpClient, provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { Provider, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { FreshTokenTestingController, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { AuthService } from './auth.service';
import { freshTokenInterceptor } from './interceptor';
import type { FreshTokenFeature } from './provider';
import type { TokenEvent } from './token';

/** Configures TestBed with `features` (and `providers` before them) and returns what the specs use. */
export function coreTestBed(features: FreshTokenFeature[] = [], providers: Provider[] = []) {
  TestBed.configureTestingModule({
    providers: [
      provideZonelessChangeDetection(),
      ...providers,
      provideFreshTokenTesting(...features),
      provideHttpClient(withInterceptors([freshTokenInterceptor])),
      provideHttpClientTesting(),
    ],
  });
  const auth = TestBed.inject(AuthService);
  const events: TokenEvent[] = [];
  auth.events$.subscribe((e) => events.push(e));
  return {
    auth,
    events,
    ctrl: TestBed.inject(FreshTokenTestingController),
    http: TestBed.inject(HttpClient),
    httpMock: TestBed.inject(HttpTestingController),
  };
}

/** Collects a promise's outcome without awaiting it (time is moved by hand). */
export function track<T>(promise: Promise<T>) {
  const outcome: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(outcome, { value, settled: true }),
    (error) => Object.assign(outcome, { error, settled: true }),
  );
  return outcome;
}

/** Sends a GET and collects its outcome. */
export function get(http: HttpClient, url: string, options: Parameters<HttpClient['get']>[1] = {}) {
  const outcome: { body?: unknown; error?: unknown; done: boolean } = { done: false };
  http.get(url, options).subscribe({
    next: (body) => Object.assign(outcome, { body, done: true }),
    error: (error) => Object.assign(outcome, { error, done: true }),
  });
  return outcome;
}
