import { DatePipe, JsonPipe } from '@angular/common';
import { HttpClient } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, DestroyRef, inject, signal } from '@angular/core';
import { Router } from '@angular/router';
import { AuthService } from 'ngx-fresh-token';
import type { OrdersAnswer } from './proxy-panel';

/**
 * `/proxy`: the app in proxy-only mode (issue #26). This route has its own `provideFreshToken(withBffSession(),
 * withBffProxy('/api/orders'))` and HttpClient (app.routes.ts): its AuthService tracks the BFF session
 * (`/session/user`) and never holds a token, and `/api/orders` works through the BFF's proxy.
 */
@Component({
  selector: 'app-proxy-page',
  imports: [DatePipe, JsonPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <section class="grid">
      <article class="card" data-testid="proxy-session">
        <h2>Proxy-only mode · the session, no token</h2>
        <dl class="counters">
          <dt>status</dt><dd data-testid="proxy-status">{{ auth.state().status }}</dd>
          <dt>user</dt><dd data-testid="proxy-user">{{ auth.sessionUser()?.['name'] ?? auth.sessionUser()?.['sub'] ?? '—' }}</dd>
          <dt>session ends</dt><dd data-testid="proxy-session-ends">{{ auth.state().expiresAt ? (auth.state().expiresAt | date: 'HH:mm:ss') : '—' }}</dd>
          <dt>token in this browser</dt><dd data-testid="proxy-token-held">{{ auth.state().token === null ? 'none' : 'HELD' }}</dd>
        </dl>
        <p class="hint">
          The session ends after its idle time without a call (each successful proxied call restarts it) or at its absolute end,
          whichever comes first. A 401 from the proxy ends it here at once: <code>signed-out</code> and a
          <code>session-expired</code> event, in every tab.
        </p>
        <div class="buttons">
          <button (click)="call()" data-testid="proxy-page-call">Call the orders API through the proxy</button>
          <button class="secondary" (click)="signOut()" data-testid="proxy-sign-out">Sign out</button>
        </div>
        @if (answer(); as a) {
          <p data-testid="proxy-page-result">{{ a.orders.length }} orders for <strong>{{ a.user }}</strong> (API token audience <code>{{ a.audience }}</code>)</p>
          <p class="check" data-testid="proxy-page-no-token">
            {{ heldAfterCall() === null ? '✓ the proxied call worked while AuthService holds no token (state().token and getValidToken() are null)' : '✗ a token is held' }}
          </p>
        }
        @if (error(); as e) {
          <p class="error" data-testid="proxy-page-error">HTTP {{ e }}</p>
        }
      </article>
      <article class="card">
        <h2>Session events · this tab</h2>
        <ol class="events" data-testid="proxy-events">
          @for (e of events(); track $index) {
            <li data-testid="proxy-event" [attr.data-type]="e.type">{{ e.type }} {{ e.code }}</li>
          } @empty {
            <li class="muted">No events yet.</li>
          }
        </ol>
        <h3>State</h3>
        <pre class="small" data-testid="proxy-state">{{ auth.state() | json }}</pre>
      </article>
    </section>
  `,
})
export class ProxyPage {
  protected readonly auth = inject(AuthService);
  private readonly http = inject(HttpClient);
  private readonly router = inject(Router);
  protected readonly answer = signal<OrdersAnswer | null>(null);
  protected readonly error = signal<number | null>(null);
  protected readonly heldAfterCall = signal<string | null>(null);
  protected readonly events = signal<Array<{ type: string; code?: string }>>([]);

  constructor() {
    const sub = this.auth.events$.subscribe((e) => this.events.update((list) => [{ type: e.type, code: e.error?.code }, ...list]));
    inject(DestroyRef).onDestroy(() => sub.unsubscribe());
  }

  protected call(): void {
    this.error.set(null);
    this.http.get<OrdersAnswer>('/api/orders').subscribe({
      next: async (a) => {
        this.heldAfterCall.set(this.auth.state().token ?? (await this.auth.getValidToken()));
        this.answer.set(a);
      },
      error: (e: { status?: number }) => this.error.set(e.status ?? 0),
    });
  }

  protected async signOut(): Promise<void> {
    await this.auth.signOut();
    await this.router.navigateByUrl('/login');
  }
}
