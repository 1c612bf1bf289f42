import { SchematicsException } from '@angular-devkit/schematics';
import type * as TS from 'typescript';
import { applyEdits, calleeName, calls, findExportedConst, importEdits, Insertion, lineIndent, parse, typescript } from './typescript';

/** What `provideFreshToken(...)` gets, and where its features come from. */
export interface FreshTokenSetup {
  /** The arguments of provideFreshToken(...), one per line. */
  features: string[];
  /** module → symbols the features need. */
  imports: Record<string, string[]>;
}

/** The outcome of editing app.config.ts: the new text, or null when ngx-fresh-token is already there. */
export interface AppConfigEdit {
  text: string | null;
}

const SHAPE =
  'an exported "appConfig" (ApplicationConfig) object literal with a "providers: [...]" array, as ng new writes it';

function refuse(path: string, why: string): never {
  throw new SchematicsException(
    `ng add ngx-fresh-token: ${path} is not in a shape it can edit safely (${why}). Nothing was changed. ` +
      `It edits ${SHAPE}. Add the two providers by hand (README, "Quick start"): ` +
      'provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor])) and provideFreshToken(...).',
  );
}

/**
 * Adds `provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor]))` (or `freshTokenInterceptor` to the
 * app's own `provideHttpClient(...)`) and `provideFreshToken(...)` to app.config.ts. Returns `{ text: null }` when the
 * file already calls `provideFreshToken`; throws a SchematicsException, changing nothing, on a file it does not recognize.
 */
export function editAppConfig(path: string, text: string, setup: FreshTokenSetup): AppConfigEdit {
  const ts = typescript();
  const source = parse(path, text);
  const decl = findExportedConst(source, ['appConfig'], 'ApplicationConfig');
  if (!decl?.initializer) refuse(path, 'no exported appConfig');
  const init = skipParens(decl.initializer);
  if (!ts.isObjectLiteralExpression(init)) refuse(path, 'appConfig is not an object literal');
  const providersProp = init.properties.find(
    (p): p is TS.PropertyAssignment => ts.isPropertyAssignment(p) && propName(p.name) === 'providers',
  );
  if (!providersProp) refuse(path, 'appConfig has no "providers" property');
  const providers = skipParens(providersProp.initializer);
  if (!ts.isArrayLiteralExpression(providers)) refuse(path, '"providers" is not an array literal');

  const all = calls(source);
  if (all.some((c) => calleeName(c) === 'provideFreshToken')) return { text: null };
  if (all.some((c) => calleeName(c) === 'provideFreshTokenTesting')) refuse(path, 'it provides provideFreshTokenTesting()');

  const edits: Insertion[] = [];
  // Angular's own modules first, then the library's, as an app's imports usually go.
  const imports: Record<string, string[]> = { '@angular/common/http': [], ...setup.imports };
  const need = (module: string, ...symbols: string[]) => (imports[module] = [...(imports[module] ?? []), ...symbols]);
  need('ngx-fresh-token', 'freshTokenInterceptor', 'provideFreshToken');

  const elements = providers.elements;
  const indent = elements.length ? lineIndent(text, elements[elements.length - 1].getStart()) : `${lineIndent(text, providersProp.getStart())}  `;
  const newProviders: string[] = [];

  const httpCalls = providers.elements.map(skipParens).filter((e): e is TS.CallExpression => ts.isCallExpression(e) && calleeName(e) === 'provideHttpClient');
  if (httpCalls.length > 1) refuse(path, 'provideHttpClient() appears more than once');
  const otherHttp = all.filter((c) => calleeName(c) === 'provideHttpClient' && !httpCalls.includes(c));
  if (otherHttp.length) refuse(path, 'provideHttpClient() is called outside the providers array');
  if (httpCalls.length === 1) {
    // The app's own HttpClient set-up: keep its features, add the interceptor.
    const http = httpCalls[0];
    const withInterceptors = http.arguments.filter((a): a is TS.CallExpression => ts.isCallExpression(a) && calleeName(a) === 'withInterceptors');
    if (withInterceptors.length > 1) refuse(path, 'withInterceptors() appears twice in provideHttpClient()');
    if (withInterceptors.length === 1) {
      const list = withInterceptors[0].arguments[0];
      if (!list || !ts.isArrayLiteralExpression(list)) refuse(path, 'withInterceptors() is not given an array literal');
      if (!list.elements.some((e) => ts.isIdentifier(e) && e.text === 'freshTokenInterceptor')) {
        // Appended: it then runs after the app's interceptors, on the request they produce.
        const last = list.elements[list.elements.length - 1];
        edits.push(last ? { pos: last.end, text: ', freshTokenInterceptor' } : { pos: list.elements.pos, text: 'freshTokenInterceptor' });
      }
    } else {
      const last = http.arguments[http.arguments.length - 1];
      edits.push(last ? { pos: last.end, text: ', withInterceptors([freshTokenInterceptor])' } : { pos: http.arguments.pos, text: 'withInterceptors([freshTokenInterceptor])' });
      need('@angular/common/http', 'withInterceptors');
    }
  } else {
    newProviders.push('provideHttpClient(withFetch(), withInterceptors([freshTokenInterceptor]))');
    need('@angular/common/http', 'provideHttpClient', 'withFetch', 'withInterceptors');
  }
  const inner = `${indent}  `;
  newProviders.push(`provideFreshToken(\n${setup.features.map((f) => `${inner}${f},\n`).join('')}${indent})`);

  const last = elements[elements.length - 1];
  if (last) {
    edits.push({ pos: last.end, text: newProviders.map((p) => `,\n${indent}${p}`).join('') });
  } else {
    const closing = lineIndent(text, providersProp.getStart());
    edits.push({ pos: providers.elements.pos, text: `\n${newProviders.map((p) => `${indent}${p},\n`).join('')}${closing}` });
  }
  for (const [module, symbols] of Object.entries(imports)) edits.push(...importEdits(source, module, [...new Set(symbols)].sort()));
  return { text: applyEdits(text, edits) };
}

function skipParens(e: TS.Expression): TS.Expression {
  const ts = typescript();
  while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e)) e = e.expression;
  return e;
}

function propName(name: TS.PropertyName): string | undefined {
  const ts = typescript();
  return ts.isIdentifier(name) || ts.isStringLiteral(name) ? name.text : undefined;
}
