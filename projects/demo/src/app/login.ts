import { HttpClient, HttpContext, HttpErrorResponse } from '@angular/common/http';
import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { ActivatedRoute, Router } from '@angular/router';
import { AuthService, SIGNED_IN_GUARD_RETURN_URL_PARAM, SKIP_FRESH_TOKEN } from 'ngx-fresh-token';
import { firstValueFrom } from 'rxjs';

/** The page `signedInGuard()` came from, if it is a path of this app; else the dashboard. */
function returnUrlOf(value: string | null): string {
  return value && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/';
}

@Component({
  selector: 'app-login',
  imports: [FormsModule],
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <article class="card login">
      <h2>Log in</h2>
      <p class="muted">
        The dev backend runs a real OpenID Connect provider. Logging in runs the authorization-code flow on the
        server; the refresh token stays there, behind an http-only cookie. The browser only ever holds short-lived
        access tokens.
      </p>
      <form (ngSubmit)="login()">
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
  private readonly http = inject(HttpClient);
  private readonly auth = inject(AuthService);
  private readonly router = inject(Router);
  private readonly route = inject(ActivatedRoute);
  protected readonly returnUrl = returnUrlOf(this.route.snapshot.queryParamMap.get(SIGNED_IN_GUARD_RETURN_URL_PARAM));
  protected username = 'alice';
  protected readonly busy = signal(false);
  protected readonly error = signal('');

  protected async login(): Promise<void> {
    this.busy.set(true);
    this.error.set('');
    try {
      const context = new HttpContext().set(SKIP_FRESH_TOKEN, true);
      await firstValueFrom(this.http.post('/auth/login', { username: this.username }, { context }));
      await this.auth.refresh(); // load the new session's first access token now
      // Back to the page the guard sent us from (navigateByUrl never leaves the app).
      await this.router.navigateByUrl(this.returnUrl);
    } catch (err) {
      this.error.set(err instanceof HttpErrorResponse ? (err.error?.message ?? `HTTP ${err.status}`) : 'Login failed.');
    } finally {
      this.busy.set(false);
    }
  }
}
