import { DOCUMENT } from '@angular/common';
import { afterNextRender, ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ActivatedRoute } from '@angular/router';
import { SIGNED_IN_GUARD_RETURN_URL_PARAM } from 'ngx-fresh-token';

/** The user names the dev IdP accepts (it has no passwords; the name becomes the `sub`). */
const USERNAME = /^[A-Za-z0-9._-]{1,32}$/;

/** The page `signedInGuard()` came from, if it is a path of this app; else the dashboard. */
function returnUrlOf(value: string | null): string {
  return value && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/';
}

@Component({
  selector: 'app-login',
  imports: [FormsModule],
  changeDetection: ChangeDetectionStrategy.OnPush,
  host: { '(window:pageshow)': 'busy.set(false)' },
  template: `
    <article class="card login">
      <h2>Log in</h2>
      <p class="muted">
        The dev backend runs a real OpenID Connect provider. Logging in takes this tab through its authorization
        endpoint (code + PKCE; password-less here: the name goes along as <code>login_hint</code>) and back. The
        refresh token stays on the server, behind an http-only cookie; the browser only ever holds short-lived
        access tokens.
      </p>
      <form (ngSubmit)="login()" [attr.data-ready]="ready() || null">
        <label>User name <input name="username" [(ngModel)]="username" data-testid="username" autocomplete="username" /></label>
        <button type="submit" [disabled]="busy()" data-testid="login">Log in</button>
      </form>
      @if (returnUrl !== '/') {
        <p class="muted" data-testid="return-url">That page needs a signed-in user: you go back to <code>{{ returnUrl }}</code> after logging in.</p>
      }
      @if (error()) {
        <p class="error" data-testid="login-error">{{ error() }}</p>
      }
    </article>
  `,
})
export class Login {
  private readonly document = inject(DOCUMENT);
  private readonly route = inject(ActivatedRoute);
  protected readonly returnUrl = returnUrlOf(this.route.snapshot.queryParamMap.get(SIGNED_IN_GUARD_RETURN_URL_PARAM));
  protected username = 'alice';
  protected readonly busy = signal(false);
  protected readonly error = signal('');
  /** True once the page runs in the browser (hydrated): typed names are no longer overwritten. */
  protected readonly ready = signal(false);

  constructor() {
    afterNextRender(() => this.ready.set(true));
  }

  /**
   * A full page load of the BFF's login route: it redirects to the IdP's authorization endpoint,
   * whose callback lands back on `returnUrl`, signed in.
   */
  protected login(): void {
    this.error.set('');
    if (!USERNAME.test(this.username)) {
      this.error.set('User name: 1–32 letters, digits, ".", "_" or "-".');
      return;
    }
    this.busy.set(true);
    const query = new URLSearchParams({ returnUrl: this.returnUrl, login_hint: this.username });
    this.document.location.assign(`/auth/login?${query}`);
  }
}
