import { formatDate } from '@angular/common';
import { ChangeDetectionStrategy, Component, computed, inject, input } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { RouterLink } from '@angular/router';
import { jwtDecode } from 'jwt-decode';
import { AuthService } from 'ngx-fresh-token';
import { nextStep } from './next-step';
import { TokenGenerations } from './request-log';
import { TokenCountdown } from './token-countdown';

const clockTime = (ms: number): string => formatDate(ms, 'HH:mm:ss', 'en-US');

/** A claim the panel shows; `iat` and `exp` are shown as times. */
export interface PanelClaim {
  name: string;
  label?: string;
  testId?: string;
}

/**
 * The token card both dashboards share: status badge, what happens next (from `state.refreshAt` and
 * the status), countdown, claims (never the token itself; the whole `jti`), the last error, and the
 * page's own controls projected below the claims.
 */
@Component({
  selector: 'app-token-panel',
  imports: [RouterLink, TokenCountdown],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <article class="card token" data-testid="token-panel">
      <header>
        <h2>{{ heading() }}</h2>
        <span [class]="'badge ' + state().status" data-testid="status">{{ state().status }}</span>
        @if (state().refreshing) {
          <span class="badge refreshing">refreshing…</span>
        }
      </header>
      <p [class]="'next-step ' + state().status" data-testid="next-step" [attr.data-refresh-at]="state().refreshAt">
        {{ next() }}
        @if (state().status === 'signed-out' && loginLink(); as link) {
          <a [routerLink]="link" data-testid="login-link">Log in</a>
        }
      </p>
      @if (state().token) {
        <app-token-countdown [state]="state()" [expiresInMs]="expiresInMs()" [generation]="generation()" />
        <dl class="claims">
          @for (c of shownClaims(); track c.name) {
            <dt>{{ c.label }}</dt>
            <dd [attr.data-testid]="c.testId">{{ c.value }}</dd>
          }
        </dl>
      }
      <ng-content />
      @if (state().error; as error) {
        <p class="error" data-testid="refresh-error">Last refresh error: {{ error.code }}</p>
      }
    </article>
  `,
})
export class TokenPanel {
  private readonly auth = inject(AuthService);

  readonly heading = input('Access token');
  /** Claims to list, in order; `jti` is always listed whole (testid `jti`). */
  readonly claims = input<PanelClaim[]>([{ name: 'sub', testId: 'sub' }, { name: 'jti' }, { name: 'iat' }, { name: 'exp' }]);
  /** Whether the app uses `withAutoRefresh()` (the service does not say), for the "what happens next" line. */
  readonly autoRefresh = input(false);
  /** Where "Log in" leads when signed out; `null` when the page has its own sign-in form. */
  readonly loginLink = input<string | null>(null);

  protected readonly state = this.auth.state;
  protected readonly expiresInMs = toSignal(this.auth.expiresIn$, { initialValue: null });
  protected readonly generation = inject(TokenGenerations).current;
  // Re-read on every countdown tick: a short-lived token's line changes when its refresh point passes.
  protected readonly next = computed(() => (this.expiresInMs(), nextStep(this.state(), this.autoRefresh(), Date.now(), clockTime)));

  protected readonly shownClaims = computed(() => {
    const token = this.state().token;
    let payload: Record<string, unknown> = {};
    try {
      payload = token ? jwtDecode<Record<string, unknown>>(token) : {};
    } catch {
      // An opaque token: no claims to show.
    }
    return this.claims().map(({ name, label, testId }) => {
      const raw = payload[name];
      const time = (name === 'iat' || name === 'exp') && typeof raw === 'number';
      return {
        name,
        label: label ?? ({ iat: 'issued', exp: 'expires' } as Record<string, string>)[name] ?? name,
        testId: testId ?? (name === 'jti' ? 'jti' : null),
        value: time ? clockTime(raw * 1000) : raw === undefined ? '' : String(raw),
      };
    });
  });
}
