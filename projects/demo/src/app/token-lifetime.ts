import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, DestroyRef, Injector, afterNextRender, computed, inject, input, runInInjectionContext, signal } from '@angular/core';
import { jwtDecode } from 'jwt-decode';
import { injectAuth } from 'ngx-fresh-token';
import { ReportsGenerations, TokenGenerations } from './request-log';

/**
 * One token's lifetime in a line, for showing several tokens side by side (tokens per API): status,
 * seconds left on a bar, when it refreshes, its generation, audience, scope and `jti` (never the
 * token). `name` is `default` (the app's default token) or the name given to `withApiToken()`.
 */
@Component({
  selector: 'app-token-lifetime',
  imports: [DatePipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <section class="lifetime" [attr.data-testid]="'lifetime-' + name()" [attr.data-jti]="claims()['jti'] ?? null">
      <header>
        <h3>{{ label() }}</h3>
        <span [class]="'badge ' + state().status" data-testid="lifetime-status">{{ state().status }}</span>
        @if (state().refreshing) {
          <span class="badge refreshing">refreshing…</span>
        }
      </header>
      @if (state().token) {
        <div class="numbers small">
          <strong data-testid="lifetime-seconds-left">{{ secondsLeft() }} s</strong> left of {{ lifetimeSeconds() }} s · token
          <span data-testid="lifetime-generation">{{ name() === 'default' ? '#' : name() + ' #' }}{{ generation() }}</span>
          @if (state().refreshAt; as at) {
            · refreshes at {{ at | date: 'HH:mm:ss' }}
          }
        </div>
        <div class="bar"><div [class]="'left ' + state().status" [style.width.%]="leftPercent()"></div></div>
        <dl class="claims small">
          <dt>aud</dt><dd data-testid="lifetime-aud">{{ claims()['aud'] }}</dd>
          <dt>scope</dt><dd data-testid="lifetime-scope">{{ claims()['scope'] }}</dd>
          <dt>jti</dt><dd data-testid="lifetime-jti">{{ claims()['jti'] }}</dd>
        </dl>
      } @else {
        <p class="muted small">{{ state().status === 'signed-out' ? 'No token.' : 'Not loaded in this tab yet.' }}</p>
      }
    </section>
  `,
})
export class TokenLifetime {
  /** `default`, or a `withApiToken()` name. */
  readonly name = input.required<string>();
  readonly label = input.required<string>();

  private readonly injector = inject(Injector);
  /** A clock for the countdown, ticking once a second in the browser. */
  private readonly now = signal(Date.now());
  private readonly auth = computed(() => runInInjectionContext(this.injector, () => injectAuth(this.name() === 'default' ? undefined : this.name())));
  private readonly generations = computed(() => this.injector.get(this.name() === 'reports' ? ReportsGenerations : TokenGenerations));

  protected readonly state = computed(() => this.auth().state());
  protected readonly generation = computed(() => (this.state(), this.generations().ofToken(this.state().token)));
  protected readonly claims = computed<Record<string, unknown>>(() => {
    const token = this.state().token;
    try {
      return token ? jwtDecode<Record<string, unknown>>(token) : {};
    } catch {
      return {};
    }
  });
  protected readonly lifetimeSeconds = computed(() => {
    const { iat, exp } = this.claims() as { iat?: number; exp?: number };
    return iat && exp ? exp - iat : 0;
  });
  protected readonly secondsLeft = computed(() => {
    const expiresAt = this.state().expiresAt;
    return expiresAt === null ? 0 : Math.max(0, Math.round((expiresAt - this.now()) / 1000));
  });
  protected readonly leftPercent = computed(() => (this.lifetimeSeconds() ? Math.min(100, (this.secondsLeft() / this.lifetimeSeconds()) * 100) : 0));

  constructor() {
    const destroyRef = inject(DestroyRef);
    afterNextRender(() => {
      const timer = setInterval(() => this.now.set(Date.now()), 1_000);
      destroyRef.onDestroy(() => clearInterval(timer));
    });
  }
}
