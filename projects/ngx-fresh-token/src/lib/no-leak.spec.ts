import { HttpClient, HttpErrorResponse, provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { provideZonelessChangeDetection } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { FreshTokenTestingController, provideFreshTokenTesting } from 'ngx-fresh-token/testing';
import { AuthService } from './auth.service';
import { freshTokenInterceptor } from './interceptor';
import { withRefreshRetry } from './provider';

const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;

describe('no token in logs or errors', () => {
  it('prints no token and puts none in any error, across refreshes, failures, 401s and sign-out', async () => {
    const lines: string[] = [];
    for (const method of CONSOLE_METHODS) {
      spyOn(console, method).and.callFake((...args: unknown[]) => lines.push(args.map((a) => String(a)).join(' ')));
    }
    TestBed.configureTestingModule({
      providers: [
        provideZonelessChangeDetection(),
        provideFreshTokenTesting(withRefreshRetry({ maxAttempts: 2 })),
        provideHttpClient(withInterceptors([freshTokenInterceptor])),
        provideHttpClientTesting(),
      ],
    });
    const auth = TestBed.inject(AuthService);
    const ctrl = TestBed.inject(FreshTokenTestingController);
    const http = TestBed.inject(HttpClient);
    const httpMock = TestBed.inject(HttpTestingController);
    const tokens: string[] = [];
    const errors: unknown[] = [];
    auth.token$.subscribe((t) => t && tokens.push(t));
    auth.events$.subscribe((e) => e.error && errors.push(e.error));
    const collect = (p: Promise<unknown>) => p.catch((e) => errors.push(e));

    ctrl.setToken({ expiresInSeconds: 20 });
    http.get('/api/a').subscribe({ error: (e) => errors.push(e) });
    await ctrl.advance(0);
    httpMock.expectOne('/api/a').flush('', { status: 401, statusText: 'Unauthorized' });
    await ctrl.advance(0);
    httpMock.expectOne('/api/a').flush('', { status: 401, statusText: 'Unauthorized' });
    ctrl.failNextRefresh(new Error(`boom ${tokens[0]}`), 2);
    void collect(auth.refresh());
    await ctrl.advance(60_000);
    ctrl.respondNextWith({ accessToken: `${tokens[0]}.extra.segment` });
    void collect(auth.refresh());
    await ctrl.advance(0);
    ctrl.respondNextWith({ accessToken: 'secret-opaque-token', expiresAt: ctrl.clock.now() - 5 });
    void collect(auth.refresh());
    await ctrl.advance(0);
    ctrl.failNextRefresh(new HttpErrorResponse({ status: 400, error: { error: 'invalid_grant', token: tokens[1] } }));
    ctrl.setToken();
    void collect(auth.refresh());
    await ctrl.advance(0);
    await auth.signOut();

    expect(tokens.length).toBeGreaterThanOrEqual(3);
    expect(errors.length).toBeGreaterThanOrEqual(5);
    const secrets = [...tokens, 'secret-opaque-token'];
    const errorTexts = errors.map((e) => {
      const err = e as Record<string, unknown>;
      const own = Object.getOwnPropertyNames(err).map((k) => String(err[k]));
      return [String(e), JSON.stringify(e), ...own].join('\n');
    });
    for (const secret of secrets) {
      for (const text of [...lines, ...errorTexts.filter((t) => !t.includes('HttpErrorResponse'))]) {
        expect(text.includes(secret)).withContext(text.slice(0, 80)).toBeFalse();
      }
    }
  });
});
