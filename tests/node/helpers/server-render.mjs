// Real Angular server renders in Node, one per call, as AngularNodeAppEngine does per request:
// @angular/platform-server's renderApplication (a fresh platform and application per render),
// zoneless, with a JIT component (hence @angular/compiler). PendingTasks keep a render open until
// the page's async work is done. Concurrent calls are concurrent renders.
import '@angular/compiler';
import { Component, REQUEST, REQUEST_CONTEXT, provideZonelessChangeDetection } from '@angular/core';
import { bootstrapApplication } from '@angular/platform-browser';
import { provideServerRendering, renderApplication } from '@angular/platform-server';

export const RENDER_ORIGIN = 'http://app.localhost';

/**
 * Declares `cls` as the page component (selector `app-root`) with `template`; returns `cls`.
 * A class field initialised with `inject(...)` runs in the component's injection context.
 */
export function page(cls, template) {
  Component({ selector: 'app-root', template })(cls);
  return cls;
}

/**
 * Renders `component` with the app `providers` for one request: `REQUEST` is a Web Request for
 * `path` with `headers` (a cookie, …), `REQUEST_CONTEXT` is `context` (what `server.ts` hands
 * `angularApp.handle(request, context)`). Resolves with the page's HTML.
 */
export function renderPage(component, providers, { path = '/', headers = {}, context } = {}) {
  const url = `${RENDER_ORIGIN}${path}`;
  const platformProviders = [{ provide: REQUEST, useValue: new Request(url, { headers }) }];
  if (context !== undefined) platformProviders.push({ provide: REQUEST_CONTEXT, useValue: context });
  return renderApplication(
    (bootstrapContext) =>
      bootstrapApplication(component, { providers: [provideServerRendering(), provideZonelessChangeDetection(), ...providers] }, bootstrapContext),
    {
      document: '<html><head></head><body><app-root></app-root></body></html>',
      url,
      allowedHosts: [new URL(RENDER_ORIGIN).hostname],
      platformProviders,
    },
  );
}

/** The text of the element with `id` in `html` (a `<p id="…">text</p>`), or null. */
export function textOf(html, id) {
  return new RegExp(`<p id="${id}">([^<]*)</p>`).exec(html)?.[1] ?? null;
}
