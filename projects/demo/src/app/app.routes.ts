import { Routes } from '@angular/router';
import { signedInGuard } from 'ngx-fresh-token';
import { Dashboard } from './dashboard';
import { Login } from './login';

export const routes: Routes = [
  // Signed-out users go to /login?returnUrl=…; on the server the route renders and the browser decides.
  { path: '', component: Dashboard, title: 'ngx-fresh-token demo', canActivate: [signedInGuard()] },
  { path: 'login', component: Login, title: 'Log in · ngx-fresh-token demo' },
  { path: 'amplify', loadChildren: () => import('./amplify/amplify.routes').then((m) => m.AMPLIFY_ROUTES) },
  // The browser as the OAuth client, with DPoP-bound tokens (withDpop(), issue #27).
  { path: 'dpop', loadChildren: () => import('./dpop/dpop.routes').then((m) => m.DPOP_ROUTES) },
  { path: '**', redirectTo: '' },
];
