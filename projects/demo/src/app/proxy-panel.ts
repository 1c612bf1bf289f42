import { HttpClient } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { RouterLink } from '@angular/router';
import { AuthService } from 'ngx-fresh-token';

/** `GET /api/orders` (through the BFF's proxy): the orders, and whom and which audience the API's token was for. */
export interface OrdersAnswer {
  orders: Array<{ id: string; item: string; quantity: number }>;
  user: string;
  audience: string | string[];
  servedAt: number;
}

/** The `aud` of a JWT (unverified: only to show which API a token is for), or `null`. */
export function audienceOf(token: string | null): string | null {
  try {
    const aud = token && JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))['aud'];
    return aud === undefined || aud === null ? null : String(aud);
  } catch {
    return null;
  }
}

/**
 * The dashboard's panel for the BFF proxy (issue #26): `/api/orders` is one of `withBffProxy()`'s
 * paths, so the interceptor sends it with `X-CSRF: 1` and no token; the BFF attaches the orders API's
 * token, which this browser never holds (its own token is for another audience).
 */
@Component({
  selector: 'app-proxy-panel',
  imports: [RouterLink],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <article class="card proxy" data-testid="proxy-panel">
      <h2>Through the BFF proxy</h2>
      <p class="hint">
        <code>GET /api/orders</code> goes to this app's origin with <code>X-CSRF: 1</code> and the session cookie
        (<code>withBffProxy('/api/orders')</code>), never with a token: the BFF attaches the orders API's token on the server.
      </p>
      <button (click)="call()" data-testid="proxy-call">Call the orders API through the proxy</button>
      @if (answer(); as a) {
        <p data-testid="proxy-result">
          {{ a.orders.length }} orders for <strong>{{ a.user }}</strong>; the API's token was for
          <code data-testid="proxy-api-audience">{{ a.audience }}</code>.
        </p>
        <p class="check" data-testid="proxy-no-token-check">
          {{ browserHasIt() ? '✗ this browser holds a token for the orders API' : '✓ no orders-API token in this browser' }}
          <span class="muted small">(this tab's token is for <code data-testid="proxy-browser-audience">{{ browserAudience() ?? 'none' }}</code>)</span>
        </p>
      }
      @if (error(); as e) {
        <p class="error" data-testid="proxy-error">HTTP {{ e }}</p>
      }
      <p><a routerLink="/proxy" data-testid="proxy-mode-link">Proxy-only mode: no token at all in this browser →</a></p>
    </article>
  `,
})
export class ProxyPanel {
  private readonly http = inject(HttpClient);
  private readonly auth = inject(AuthService);
  protected readonly answer = signal<OrdersAnswer | null>(null);
  protected readonly error = signal<number | null>(null);
  protected readonly browserAudience = computed(() => audienceOf(this.auth.state().token));
  protected readonly browserHasIt = computed(() => {
    const a = this.answer();
    return !!a && this.browserAudience() === String(a.audience);
  });

  protected call(): void {
    this.error.set(null);
    this.http.get<OrdersAnswer>('/api/orders').subscribe({
      next: (a) => this.answer.set(a),
      error: (e: { status?: number }) => this.error.set(e.status ?? 0),
    });
  }
}
