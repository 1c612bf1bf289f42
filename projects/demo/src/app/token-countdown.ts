import { DecimalPipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, computed, input } from '@angular/core';
import { jwtDecode } from 'jwt-decode';
import { DEFAULT_REFRESH_BUFFER_MS, TokenState, effectiveBufferMs } from 'ngx-fresh-token';

/** Seconds left, a countdown bar with the refresh buffer marked, and the token's generation number. */
@Component({
  selector: 'app-token-countdown',
  imports: [DecimalPipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <div class="countdown">
      <div class="numbers">
        <strong data-testid="seconds-left">{{ secondsLeft() | number: '1.0-0' }} s</strong> left of {{ lifetimeSeconds() }} s
        · token #<span data-testid="generation">{{ generation() }}</span>
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
  /** The refresh point in effect: 30 s before expiry, or half the life of a token that lives no longer than that. */
  protected readonly bufferSeconds = computed(() => {
    const life = this.lifetimeSeconds();
    return effectiveBufferMs(DEFAULT_REFRESH_BUFFER_MS, life ? life * 1000 : null) / 1000;
  });
  protected readonly secondsLeft = computed(() => (this.expiresInMs() ?? 0) / 1000);
  protected readonly leftPercent = computed(() => this.percentOfLife(this.secondsLeft()));
  protected readonly bufferPercent = computed(() => this.percentOfLife(this.bufferSeconds()));

  private percentOfLife(seconds: number): number {
    const life = this.lifetimeSeconds();
    return life ? Math.min(100, (seconds / life) * 100) : 0;
  }
}
