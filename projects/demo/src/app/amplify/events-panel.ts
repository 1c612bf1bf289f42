import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, DestroyRef, inject, signal } from '@angular/core';
import { takeUntilDestroyed } from '@angular/core/rxjs-interop';
import { AuthService } from 'ngx-fresh-token';
import { AmplifyFreshToken } from 'ngx-fresh-token/amplify';
import { Subscription } from 'rxjs';
import { TokenGenerations } from '../request-log';

/** A message as published by this page. */
interface DemoMessage {
  text: string;
  sentAt: number;
}

interface ReceivedMessage extends DemoMessage {
  receivedAt: number;
  /** The token generation the page had when the message arrived. */
  generation: number;
}

const CHANNEL = '/default/demo';

/**
 * The AppSync Events card: a subscription open while signed in (renewed with a fresh token before
 * the old one expires, reconnected after an auth close), Publish, and the messages received.
 * Rendered once Amplify is configured.
 */
@Component({
  selector: 'app-events-panel',
  imports: [DatePipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  styles: `
    .messages { list-style: none; padding: 0; margin: 0.4rem 0 0; font-size: 0.85rem; max-height: 14rem; overflow: auto; }
    .messages li { padding: 0.2rem 0; border-bottom: 1px solid var(--line); }
    .messages time { color: var(--muted); font-family: ui-monospace, monospace; }
    .events-actions { margin: 0.9rem 0 0.6rem; }
    header + dl { margin-top: 0.8rem; }
  `,
  template: `
    <article class="card" data-testid="events-panel">
      <header>
        <h2>AppSync Events <code>{{ channel }}</code></h2>
        <span [class]="'badge ' + (openSockets() > 0 ? 'fresh' : 'signed-out')" data-testid="events-status">
          {{ openSockets() > 0 ? 'connected' : 'not connected' }}
        </span>
      </header>
      <dl class="counters">
        <dt>connections opened</dt><dd data-testid="connections">{{ connections() }}</dd>
        <dt>renewals / reconnects</dt><dd data-testid="renewals">{{ connections() > 0 ? connections() - 1 : 0 }}</dd>
        <dt>messages received</dt><dd data-testid="message-count">{{ messages().length }}</dd>
      </dl>
      <div class="buttons events-actions">
        <button (click)="publish()" [disabled]="!state().token" data-testid="publish">Publish</button>
        @if (!subscribed() && state().token) {
          <button class="secondary" (click)="subscribe()" data-testid="resubscribe">Subscribe again</button>
        }
      </div>
      @if (error(); as e) {
        <p class="error" data-testid="events-error">{{ e }}</p>
      }
      <ol class="messages" data-testid="messages">
        @for (m of messages(); track $index) {
          <li data-testid="message">
            <time>{{ m.receivedAt | date: 'HH:mm:ss' }}</time> {{ m.text }}
            <span class="muted">· sent {{ m.sentAt | date: 'HH:mm:ss' }} · token #{{ m.generation }}</span>
          </li>
        } @empty {
          <li class="muted">No messages yet: press Publish.</li>
        }
      </ol>
    </article>
  `,
})
export class EventsPanel {
  private readonly amplify = inject(AmplifyFreshToken);
  private readonly generation = inject(TokenGenerations).current;
  protected readonly state = inject(AuthService).state;
  protected readonly channel = CHANNEL;
  protected readonly messages = signal<ReceivedMessage[]>([]);
  protected readonly connections = signal(0);
  protected readonly openSockets = signal(0);
  protected readonly subscribed = signal(false);
  protected readonly error = signal('');
  private subscription: Subscription | undefined;
  private published = 0;

  constructor() {
    // Events need a signed-in user: subscribe on sign-in, drop the subscription on sign-out.
    inject(AuthService)
      .token$.pipe(takeUntilDestroyed())
      .subscribe((token) => {
        if (token && !this.subscription) this.subscribe();
        if (!token) this.unsubscribe();
      });
    inject(DestroyRef).onDestroy(() => this.unsubscribe());
  }

  protected subscribe(): void {
    this.unsubscribe();
    this.error.set('');
    this.subscribed.set(true);
    this.subscription = this.amplify
      .events<DemoMessage>(CHANNEL, {
        // Counts the sockets the connection opens: one at first, one more for each renewal
        // before the token expires and each reconnect after an auth close.
        webSocketFactory: (url, protocols) => {
          const socket = new WebSocket(url, protocols);
          this.connections.update((n) => n + 1);
          let opened = false;
          socket.addEventListener('open', () => {
            opened = true;
            this.openSockets.update((n) => n + 1);
          });
          socket.addEventListener('close', () => {
            if (opened) this.openSockets.update((n) => Math.max(0, n - 1));
            opened = false;
          });
          return socket;
        },
      })
      .subscribe({
        next: (m) =>
          this.messages.update((all) =>
            [{ text: String(m?.text ?? JSON.stringify(m)), sentAt: Number(m?.sentAt ?? 0), receivedAt: Date.now(), generation: this.generation() }, ...all].slice(0, 100),
          ),
        error: (err) => {
          this.subscribed.set(false);
          this.subscription = undefined;
          this.error.set(`Subscription ended: ${(err as { code?: string }).code ?? 'error'}`);
        },
      });
  }

  private unsubscribe(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.subscribed.set(false);
  }

  protected async publish(): Promise<void> {
    const n = ++this.published;
    try {
      await this.amplify.publish(CHANNEL, [{ text: `hello #${n}`, sentAt: Date.now() } satisfies DemoMessage]);
    } catch (err) {
      this.error.set(`Publish failed: ${(err as { code?: string }).code ?? 'error'}`);
    }
  }
}
