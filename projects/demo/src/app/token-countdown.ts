import { DecimalPipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, computed, input } from '@angular/core';
import { jwtDecode } from 'jwt-decode';
import { TokenState } from 'ngx-fresh-token';

/**
 * Seconds left, a countdown bar with the refresh buffer marked, the time to the refresh and the
 * token's generation number. The buffer and the refresh point come from `state.refreshAt`, the
 * service's own schedule (30 s before expiry, or half the life of a token that lives shorter).
 */
@Component({
  selector: 'app-token-countdown',
  imports: [DecimalPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <div class="countdown">
      <div class="numbers">
        <strong data-testid="seconds-left">{{ secondsLeft() | number: '1.0-0' }} s</strong> left of {{ lifetimeSeconds() }} s
        · token #<span data-testid="generation">{{ generation() }}</span>
        · <span data-testid="refresh-in">{{ refreshIn() }}</span>
      </div>
      <div class="bar" [title]="'The last ' + bufferSeconds() + ' s are the refresh buffer'">
        <div [class]="'left ' + state().status" [style.width.%]="leftPercent()"></div>
        <div class="buffer" [style.width.%]="bufferPercent()"></div>
      </div>
      <div class="legend"><span class="swatch buffer"></span> refresh buffer ({{ bufferSeconds() }} s before expiry)</div>
    </div>
  `,
})
export class TokenCountdown {
  readonly state = input.required<TokenState>();
  readonly expiresInMs = input<number | null>(null);
  readonly generation = input(0);

  protected readonly lifetimeSeconds = computed(() => {
    const token = this.state().token;
    try {
      const { iat, exp } = token ? jwtDecode<{ iat?: number; exp?: number }>(token) : {};
      return iat && exp ? exp - iat : 0;
    } catch {
      return 0;
    }
  });
  /** How long before expiry the refresh starts, as the service scheduled it (`expiresAt − refreshAt`). */
  private readonly bufferMs = computed(() => {
    const { expiresAt, refreshAt } = this.state();
    return expiresAt !== null && refreshAt !== null ? Math.max(0, expiresAt - refreshAt) : 0;
  });
  protected readonly bufferSeconds = computed(() => Math.round(this.bufferMs() / 1000));
  protected readonly secondsLeft = computed(() => (this.expiresInMs() ?? 0) / 1000);
  /** Time to `refreshAt`, on the same one-second tick as the countdown. */
  protected readonly refreshIn = computed(() => {
    const left = this.expiresInMs();
    if (left === null || this.state().refreshAt === null) return 'no refresh scheduled';
    const inMs = left - this.bufferMs();
    return inMs > 0 ? `refresh in ${Math.ceil(inMs / 1000)} s` : 'refresh due';
  });
  protected readonly leftPercent = computed(() => this.percentOfLife(this.secondsLeft()));
  protected readonly bufferPercent = computed(() => this.percentOfLife(this.bufferMs() / 1000));

  private percentOfLife(seconds: number): number {
    const life = this.lifetimeSeconds();
    return life ? Math.min(100, (seconds / life) * 100) : 0;
  }
}
