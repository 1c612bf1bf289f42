import { RenderMode, ServerRoute } from '@angular/ssr';

export const serverRoutes: ServerRoute[] = [
  // Proxy-only mode (#26) renders in the browser: its session is read there, with the browser's cookie.
  { path: 'proxy', renderMode: RenderMode.Client },
  { path: '**', renderMode: RenderMode.Server },
];
