// The one TestBed harness of the oauth specs (a `.spec-helper.ts` file: imported by specs, left
// out of the library build by tsconfig.lib.json, and no spec file of its own).
import { HttpClient, provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { Provider, provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { AuthService, FRESH_TOKEN_CLOCK, FreshTokenFeature, TokenEvent, freshTokenInterceptor, provideFreshToken } from 'ngx-fresh-token';
import { ManualClock } from 'ngx-fresh-token/testing';

/**
 * What {@link setupOAuthTestBed} hands a spec.
 *
 * @example
 * const { auth, httpMock, clock } = setupOAuthTestBed(withSessionEndpoint({ url }));
 */
export interface OAuthTestBed {
  /** `FRESH_TOKEN_CLOCK`, starting at 2026-01-01 12:00 UTC. */
  clock: ManualClock;
  auth: AuthService;
  /** Every event of `auth.events$` since the set-up. */
  events: TokenEvent[];
  /** An HttpClient behind `freshTokenInterceptor`. */
  http: HttpClient;
  httpMock: HttpTestingController;
}

let lastHttpMock: HttpTestingController | undefined;

/**
 * A zoneless TestBed with `provideFreshToken(source, ...features)`, a ManualClock as
 * `FRESH_TOKEN_CLOCK`, HttpClient with the interceptor on the testing backend, then `providers`
 * (which may override any of those, e.g. `PLATFORM_ID`).
 *
 * @example
 * const { auth, httpMock } = setupOAuthTestBed(withClientCredentials(options), { providers: [{ provide: PLATFORM_ID, useValue: 'server' }] });
 */
export function setupOAuthTestBed(source: FreshTokenFeature, extra: { features?: FreshTokenFeature[]; providers?: Provider[] } = {}): OAuthTestBed {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  TestBed.configureTestingModule({
    providers: [
      provideZonelessChangeDetection(),
      { provide: FRESH_TOKEN_CLOCK, useValue: clock },
      provideHttpClient(withInterceptors([freshTokenInterceptor])),
      provideHttpClientTesting(),
      provideFreshToken(source, ...(extra.features ?? [])),
      ...(extra.providers ?? []),
    ],
  });
  const httpMock = TestBed.inject(HttpTestingController);
  lastHttpMock = httpMock;
  const auth = TestBed.inject(AuthService);
  const events: TokenEvent[] = [];
  auth.events$.subscribe((e) => events.push(e));
  return { clock, auth, events, http: TestBed.inject(HttpClient), httpMock };
}

/**
 * Fails the spec when the last harness saw a request nobody expected (`HttpTestingController.verify()`); call it in `afterEach`.
 *
 * @example
 * afterEach(verifyOAuthRequests);
 */
export function verifyOAuthRequests(): void {
  const httpMock = lastHttpMock;
  lastHttpMock = undefined;
  httpMock?.verify();
}
