import { Routes } from '@angular/router';
import { Dashboard } from './dashboard';
import { Login } from './login';

export const routes: Routes = [
  { path: '', component: Dashboard, title: 'ngx-fresh-token demo' },
  { path: 'login', component: Login, title: 'Log in · ngx-fresh-token demo' },
  { path: 'amplify', loadChildren: () => import('./amplify/amplify.routes').then((m) => m.AMPLIFY_ROUTES) },
  { path: '**', redirectTo: '' },
];
