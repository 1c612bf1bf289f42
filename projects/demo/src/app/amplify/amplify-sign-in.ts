import { ChangeDetectionStrategy, Component, inject, signal } from '@angular/core';
import { FormsModule } from '@angular/forms';
import { signIn } from 'aws-amplify/auth';
import { AuthService } from 'ngx-fresh-token';

/** Amplify's `signIn` with the Cognito user's name and password, then the new session's first token. */
@Component({
  selector: 'app-amplify-sign-in',
  imports: [FormsModule],
  changeDetection: ChangeDetectionStrategy.OnPush,
  styles: `
    .signin { display: flex; gap: 0.6rem; align-items: end; flex-wrap: wrap; margin-top: 0.6rem; }
    .signin label { display: flex; flex-direction: column; gap: 0.3rem; font-size: 0.85rem; color: var(--muted); }
    .signin input { font: inherit; padding: 0.45rem; border: 1px solid var(--line); border-radius: 8px; color: var(--ink); }
  `,
  template: `
    <form class="signin" (ngSubmit)="signIn()">
      <label>User name <input name="username" [(ngModel)]="username" data-testid="amplify-username" autocomplete="username" /></label>
      <label>Password <input name="password" type="password" [(ngModel)]="password" data-testid="amplify-password" autocomplete="current-password" /></label>
      <button type="submit" [disabled]="busy()" data-testid="amplify-signin">Sign in with Cognito</button>
    </form>
    <p class="muted">The demo user's name and password are printed in the <code>npm run demo:amplify</code> console.</p>
    @if (error(); as e) {
      <p class="error" data-testid="signin-error">{{ e }}</p>
    }
  `,
})
export class AmplifySignIn {
  private readonly auth = inject(AuthService);
  protected username = '';
  protected password = '';
  protected readonly busy = signal(false);
  protected readonly error = signal('');

  protected async signIn(): Promise<void> {
    this.busy.set(true);
    this.error.set('');
    try {
      const result = await signIn({ username: this.username, password: this.password, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
      if (!result.isSignedIn) throw new Error(`Sign-in needs another step: ${result.nextStep.signInStep}`);
      this.password = '';
      await this.auth.refresh(); // load the new Cognito session's token now
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'UserAlreadyAuthenticatedException') {
        await this.auth.refresh().catch(() => null);
      } else {
        this.error.set(`Sign-in failed: ${name ?? 'error'}${(err as Error).message ? ' – ' + (err as Error).message : ''}`);
      }
    } finally {
      this.busy.set(false);
    }
  }
}
