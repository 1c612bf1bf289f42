import { SchematicsException } from '@angular-devkit/schematics';
import type * as TS from 'typescript';
import { applyEdits, findExportedConst, importEdits, Insertion, lineIndent, parse, typescript } from './typescript';

function refuse(path: string, what: string, why: string): never {
  throw new SchematicsException(
    `ng add ngx-fresh-token: ${path} is not in a shape it can edit safely (${why}). Nothing was changed. ` +
      `It edits ${what}. Run again with --routes=false and add the routes by hand (README, "Route guard").`,
  );
}

function arrayOf(path: string, text: string, names: string[], typeName: string, what: string): { source: TS.SourceFile; list: TS.ArrayLiteralExpression } {
  const ts = typescript();
  const source = parse(path, text);
  const decl = findExportedConst(source, names, typeName);
  if (!decl?.initializer) refuse(path, what, `no exported ${names[0]}`);
  let init = decl.initializer;
  while (ts.isAsExpression(init) || ts.isSatisfiesExpression(init) || ts.isParenthesizedExpression(init)) init = init.expression;
  if (!ts.isArrayLiteralExpression(init)) refuse(path, what, `${names[0]} is not an array literal`);
  return { source, list: init };
}

/** Edits that put `items` (one route each) at the start of the array, in `ng new`'s formatting. */
function prepend(text: string, list: TS.ArrayLiteralExpression, items: string[]): Insertion {
  const first = list.elements[0];
  if (first) {
    const indent = lineIndent(text, first.getStart());
    const multiline = text.slice(list.getStart(), first.getStart()).includes('\n');
    return multiline
      ? { pos: first.getStart(), text: items.map((i) => `${i},\n${indent}`).join('') }
      : { pos: first.getStart(), text: items.map((i) => `${i}, `).join('') };
  }
  const indent = lineIndent(text, list.getStart());
  return { pos: list.elements.pos, text: `\n${items.map((i) => `${indent}  ${i},\n`).join('')}${indent}` };
}

/**
 * Adds `login`, `logout` and `account` (behind `signedInGuard()`) to app.routes.ts; null when signedInGuard is
 * already used there.
 */
export function editRoutes(path: string, text: string): string | null {
  if (/\bsignedInGuard\b/.test(text)) return null;
  const { source, list } = arrayOf(path, text, ['routes'], 'Routes', 'an exported "routes: Routes = [...]" array, as ng new writes it');
  const routes = [
    "{ path: 'login', component: Login }",
    "{ path: 'logout', component: Logout }",
    "{ path: 'account', component: Account, canActivate: [signedInGuard()] }",
  ];
  return applyEdits(text, [
    prepend(text, list, routes),
    ...importEdits(source, 'ngx-fresh-token', ['signedInGuard']),
    ...importEdits(source, './auth/login', ['Login']),
    ...importEdits(source, './auth/logout', ['Logout']),
    ...importEdits(source, './auth/account', ['Account']),
  ]);
}

/**
 * Renders `account` per request (`RenderMode.Server`, so the guard sees the request's session: a prerendered page
 * is the same for every user, and signedInGuard() refuses to prerender, NFT108) and `logout` in the browser only;
 * null when they already have a render mode.
 */
export function editServerRoutes(path: string, text: string, accountMode: 'Server' | 'Client'): string | null {
  if (/path:\s*['"]account['"]/.test(text)) return null;
  const { source, list } = arrayOf(path, text, ['serverRoutes'], 'ServerRoute[]', 'an exported "serverRoutes: ServerRoute[] = [...]" array, as ng add @angular/ssr writes it');
  return applyEdits(text, [
    prepend(text, list, [
      `{ path: 'account', renderMode: RenderMode.${accountMode} }`,
      "{ path: 'logout', renderMode: RenderMode.Client }",
    ]),
    ...importEdits(source, '@angular/ssr', ['RenderMode']),
  ]);
}
