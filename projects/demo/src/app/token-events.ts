import { DatePipe } from '@angular/common';
import { ChangeDetectionStrategy, Component, input } from '@angular/core';
import { HistoryEntry } from './request-log';

/**
 * The token events of a page, newest first. With `showOrigin` (cross-tab sync on), each new token
 * says where it came from: "this tab" (its own source) or "adopted from another tab".
 */
@Component({
  selector: 'app-token-events',
  imports: [DatePipe],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <ol class="events" data-testid="events">
      @for (e of events(); track $index) {
        <li data-testid="event" [attr.data-type]="e.type" [attr.data-origin]="e.adopted === undefined ? null : e.adopted ? 'other-tab' : 'this-tab'">
          <time>{{ e.at | date: 'HH:mm:ss' }}</time>
          <span [class]="'event ' + e.type">{{ e.type }}</span>
          @if (showOrigin() && e.adopted !== undefined) {
            <span [class]="'origin ' + (e.adopted ? 'adopted' : 'own')" data-testid="event-origin">{{ e.adopted ? 'adopted from another tab' : '(this tab)' }}</span>
          }
          {{ e.code }}
        </li>
      } @empty {
        <li class="muted">No events yet.</li>
      }
    </ol>
  `,
})
export class TokenEvents {
  readonly events = input.required<HistoryEntry[]>();
  readonly showOrigin = input(false);
}
