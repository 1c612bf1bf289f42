import { inject } from '@angular/core';
import { ActivatedRouteSnapshot, CanActivateFn, CanMatchFn, Route, Router, RouterStateSnapshot, UrlSegment, UrlTree } from '@angular/router';
import { AuthService } from './auth.service';
import { injectAuth } from './api-token';
import { ɵerror } from './errors';
import { ɵSERVER_HALF } from './server-render';
import { ɵOPTIONAL, ɵonServer } from './config';

/**
 * The query parameter in which {@link signedInGuard} hands the attempted URL to the login page.
 *
 * @example
 * const returnUrl = inject(ActivatedRoute).snapshot.queryParamMap.get(SIGNED_IN_GUARD_RETURN_URL_PARAM) ?? '/';
 */
export const SIGNED_IN_GUARD_RETURN_URL_PARAM = 'returnUrl';

/**
 * Options of {@link signedInGuard}.
 *
 * @example
 * const options: SignedInGuardOptions = { redirectTo: '/auth/sign-in' };
 */
export interface SignedInGuardOptions {
  /**
   * Where a signed-out user is sent: a URL of this app starting with `/` (default `/login`). It may
   * carry query parameters of its own; `returnUrl` is added to them.
   */
  redirectTo?: string;
  /**
   * The token that decides, by its name in `withApiToken()` (default: the app's default token). A
   * name no `withApiToken()` declares is `NFT111` when the guard runs.
   */
  apiToken?: string;
}

/** The path of a URL, without query and fragment, to tell whether two URLs name the same page. */
function pathOf(router: Router, url: UrlTree): string {
  return router.serializeUrl(url).split(/[?#]/)[0];
}

/**
 * The URL the user tried to open, as a string for `returnUrl`. `canActivate` has it in the router
 * state. `canMatch` runs before there is one, so it is the current navigation's URL (whole path,
 * query and fragment), or, outside a navigation, the segments being matched.
 */
function attemptedUrl(router: Router, state: RouterStateSnapshot | UrlSegment[]): string {
  if (!Array.isArray(state)) return state.url;
  const navigation = router.currentNavigation();
  if (navigation) return router.serializeUrl(navigation.extractedUrl);
  return '/' + state.map((segment) => segment.toString()).join('/');
}

/**
 * A route guard, for `canActivate` and `canMatch`, that lets a signed-in user through and sends
 * anyone else to `redirectTo` (default `/login`) with the attempted URL in the `returnUrl` query
 * parameter. It waits for the first load of the session (one `getValidToken()`), so a user whose
 * session the source still holds (a cookie, Amplify's storage) is let through on a fresh page load.
 * A failed refresh counts as signed out, except a transient failure while the current token is still
 * valid. A page rendered on the server for a signed-in session (its snapshot in `TransferState`) is
 * let through at once, before any token is fetched, so hydration shows what the server rendered.
 *
 * On the server platform it calls no token source:
 * - a render that knows the request's session ({@link FRESH_TOKEN_SERVER_SESSION}, from
 *   `withSessionEndpoint()` and `bff.renderContext()`): signed in → rendered; signed out → the
 *   redirect, answered by the server (302);
 * - a render with a request but no session context (the app's `server.ts` passes none, or another
 *   token source): rendered, and the browser decides when the app starts there;
 * - a render with no request at all — a prerender (`RenderMode.Prerender`) or the app shell — throws
 *   `NFT108`: a file served to every user must not be rendered signed out (nor signed in) for one
 *   of them. Mark routes that need a session `RenderMode.Server` (or `RenderMode.Client`).
 *
 * Throws a {@link FreshTokenError} `NFT105` for a `redirectTo` that is not an app URL starting with
 * `/`, and `NFT106` when used without `provideFreshToken()`.
 *
 * @example
 * export const routes: Routes = [
 *   { path: 'login', component: Login },
 *   { path: '', component: Dashboard, canActivate: [signedInGuard()] },
 *   { path: 'admin', loadChildren: () => import('./admin/routes'), canMatch: [signedInGuard({ redirectTo: '/auth/sign-in' })] },
 *   { path: 'reports', component: Reports, canActivate: [signedInGuard({ apiToken: 'reports' })] },
 * ];
 */
export function signedInGuard(options: SignedInGuardOptions = {}): CanActivateFn & CanMatchFn {
  const redirectTo = options?.redirectTo ?? '/login';
  if (typeof redirectTo !== 'string' || !redirectTo.startsWith('/') || redirectTo.startsWith('//') || redirectTo.startsWith('/\\')) {
    throw ɵerror(
      'NFT105',
      (typeof ngDevMode === 'undefined' || ngDevMode) ? 'signedInGuard({ redirectTo }) needs a URL of this app starting with "/", for example "/login".' : '',
    );
  }
  const guard = (_route: ActivatedRouteSnapshot | Route, state: RouterStateSnapshot | UrlSegment[]): boolean | UrlTree | Promise<boolean | UrlTree> => {
    const auth = options?.apiToken === undefined ? inject(AuthService, ɵOPTIONAL) : injectAuth(options.apiToken);
    if (!auth) {
      throw ɵerror(
        'NFT106',
        (typeof ngDevMode === 'undefined' || ngDevMode) ? 'signedInGuard() needs AuthService. To fix the problem, add provideFreshToken(withTokenSource(...)) to the app (or route) providers.' : '',
      );
    }
    const router = inject(Router);
    const attempted = attemptedUrl(router, state);
    // The server's branch lives with the rest of server rendering (server-render.ts); browser builds have none.
    const server = ɵonServer() ? inject(ɵSERVER_HALF) : null;
    if (server) return server.guard(attempted, () => redirect(router, redirectTo, attempted));
    // Rendered signed in by the server: the same answer now, before the first token arrives. A session
    // without a token (withBffSession()) past its end is read again below.
    if (auth.ɵknownSignedIn() && auth.state().status !== 'expired') return true;
    // getValidToken() loads the session on first use and keeps a token it could not refresh
    // transiently while that token is still valid; any failure left is "not signed in".
    return auth.getValidToken().then(
      // A session that holds no token in the browser (withBffSession()) is signed in with none.
      (token) => token !== null || auth.ɵknownSignedIn() || redirect(router, redirectTo, attempted),
      () => redirect(router, redirectTo, attempted),
    );
  };
  return guard as CanActivateFn & CanMatchFn;
}

function redirect(router: Router, redirectTo: string, attempted: string): boolean | UrlTree {
  const target = router.parseUrl(redirectTo);
  // Guarding the login page itself must not redirect to it again and again.
  if (pathOf(router, target) === pathOf(router, router.parseUrl(attempted))) return true;
  target.queryParams = { ...target.queryParams, [SIGNED_IN_GUARD_RETURN_URL_PARAM]: attempted };
  return target;
}
