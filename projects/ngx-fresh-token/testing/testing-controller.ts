import { HttpErrorResponse } from '@angular/common/http';
import { EnvironmentProviders, Injectable, Injector, inject, makeEnvironmentProviders } from '@angular/core';
import {
  AuthService,
  FRESH_TOKEN_CLOCK,
  FreshTokenFeature,
  TokenGrant,
  TokenRequest,
  TokenSource,
  provideFreshToken,
  withTokenSource,
} from 'ngx-fresh-token';
import { ManualClock } from './manual-clock';
import { createTestJwt } from './test-jwt';

/**
 * Drives ngx-fresh-token in tests: holds a fake token source and a {@link ManualClock}, sets
 * tokens, moves time, fails refreshes on demand and counts calls to the source.
 *
 * @example
 * const ctrl = TestBed.inject(FreshTokenTestingController);
 * ctrl.setToken({ expiresInSeconds: 20 });
 * await ctrl.advance(1_000);
 * expect(ctrl.refreshCount).toBe(1);
 */
@Injectable()
export class FreshTokenTestingController {
  /** The fake clock the service runs on. */
  readonly clock = inject(FRESH_TOKEN_CLOCK) as ManualClock;
  private readonly injector = inject(Injector);
  private readonly failures: unknown[] = [];
  private readonly grants: Array<TokenGrant | null> = [];

  /** Every request the source received, oldest first, as `{ forceRefresh }` (the held `currentToken` is left out, so assertions stay stable). */
  readonly requests: TokenRequest[] = [];
  /** Lifetime of the tokens the fake source issues, in seconds (default 3600). */
  tokenLifetimeSeconds = 3600;
  /** Fake time the source takes to answer, in ms (default 0). */
  latencyMs = 0;
  /** While `false` the source answers `null` (signed out). */
  signedInAtSource = true;
  /** How many times `TokenSource.signOut()` was called. */
  signOutCount = 0;

  /** The fake source handed to `withTokenSource()`. */
  readonly source: TokenSource = {
    getToken: (request) => this.answer(request),
    signOut: () => {
      this.signOutCount++;
    },
  };

  // Looked up lazily: AuthService itself depends on this controller's source.
  private get auth(): AuthService {
    return this.injector.get(AuthService);
  }

  /** How many times the service called `TokenSource.getToken` (refreshes and initial loads). */
  get refreshCount(): number {
    return this.requests.length;
  }

  /** Puts a new test JWT in the service now, as if the user had just signed in; returns it. */
  setToken(options: { expiresInSeconds?: number; claims?: Record<string, unknown> } = {}): string {
    const token = this.createToken(options.expiresInSeconds, options.claims);
    this.auth.setGrant({ accessToken: token });
    return token;
  }

  /** Forgets the token in the service without calling the source (state `signed-out`). */
  clearToken(): void {
    this.auth.setGrant(null);
  }

  /** Makes a test JWT on the fake clock. */
  createToken(expiresInSeconds = this.tokenLifetimeSeconds, claims?: Record<string, unknown>): string {
    return createTestJwt({ expiresInSeconds, claims, nowMs: this.clock.now() });
  }

  /** Makes the next `times` source calls throw `error` (default: HTTP 503, a transient failure). */
  failNextRefresh(error: unknown = new HttpErrorResponse({ status: 503, statusText: 'Service Unavailable' }), times = 1): void {
    for (let i = 0; i < times; i++) this.failures.push(error);
  }

  /** Makes the next source call answer exactly `grant` (or `null`), in place of a new test JWT. */
  respondNextWith(grant: TokenGrant | null | unknown): void {
    this.grants.push(grant as TokenGrant | null);
  }

  /** Moves fake time forward, running due timers and settling promises. */
  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  private async answer(request: TokenRequest): Promise<TokenGrant | null> {
    this.requests.push({ forceRefresh: request.forceRefresh });
    if (this.latencyMs > 0) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.latencyMs));
    if (this.failures.length) throw this.failures.shift();
    if (this.grants.length) return this.grants.shift()!;
    return this.signedInAtSource ? { accessToken: this.createToken() } : null;
  }
}

/**
 * Provides ngx-fresh-token for tests: the real `AuthService` on a {@link ManualClock}, fed by the
 * {@link FreshTokenTestingController}'s fake source. Pass any other features as usual.
 *
 * @example
 * TestBed.configureTestingModule({ providers: [
 *   provideFreshTokenTesting(withAuthorizedUrls('/')),
 *   provideHttpClient(withInterceptors([freshTokenInterceptor])),
 *   provideHttpClientTesting(),
 * ]});
 */
export function provideFreshTokenTesting(...features: FreshTokenFeature[]): EnvironmentProviders {
  return makeEnvironmentProviders([
    { provide: FRESH_TOKEN_CLOCK, useFactory: () => new ManualClock() },
    FreshTokenTestingController,
    provideFreshToken(withTokenSource(() => inject(FreshTokenTestingController).source), ...features),
  ]);
}
