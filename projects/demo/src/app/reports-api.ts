import { isPlatformServer } from '@angular/common';
import { PLATFORM_ID, inject } from '@angular/core';

/**
 * The demo's second API (#25): the reports API, served by the dev backend on another origin — the
 * same port on 127.0.0.1, while the app is on localhost — that accepts only tokens for its own
 * audience. The URL rule of `withApiToken('reports', …)`: a RegExp, whatever the port.
 */
export const REPORTS_API_RULE = /^http:\/\/127\.0\.0\.1(:\d+)?\/reports-api\//;

/** The reports API's base URL as the browser calls it (`null` on the server: the dashboard calls it from the browser only). */
export function reportsApiUrl(): string | null {
  if (isPlatformServer(inject(PLATFORM_ID))) return null;
  return `${location.protocol}//127.0.0.1${location.port ? `:${location.port}` : ''}/reports-api`;
}
