import { Rule, SchematicContext, SchematicsException, Tree, chain } from '@angular-devkit/schematics';
import { DependencyType, ExistingBehavior, InstallBehavior, addDependency, readWorkspace } from '@schematics/angular/utility';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { editAppConfig, FreshTokenSetup } from './app-config';
import { editRoutes, editServerRoutes } from './routes';
import type { NgAddOptions, TokenPattern } from './schema';
import { editServerEntry } from './server-entry';
import { accountComponent, customTokenSource, envExample, loginComponent, logoutComponent } from './templates';
import { quote } from './typescript';

const PATTERNS: readonly TokenPattern[] = ['bff-session', 'bff-proxy', 'refresh-token', 'amplify', 'custom'];

/** This package's own package.json: the optional peers' ranges and the exports of this version. */
function ownPackage(): { peerDependencies?: Record<string, string>; exports?: Record<string, { types?: string }> } {
  return JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
}

/** Whether this version of the core exports `name`. */
function coreExports(name: string): boolean {
  try {
    const types = ownPackage().exports?.['.']?.types;
    // A declaration, not a mention in a doc comment.
    return !!types && new RegExp(`\\b(function|const|class) ${name}\\b`).test(readFileSync(join(__dirname, '..', '..', types), 'utf8'));
  } catch {
    return false;
  }
}

function fail(message: string): never {
  throw new SchematicsException(`ng add ngx-fresh-token: ${message}`);
}

/** Validates the flags/answers; the messages name the flag and what it accepts. */
function normalize(options: NgAddOptions) {
  const pattern = options.pattern ?? 'bff-session';
  if (!PATTERNS.includes(pattern)) fail(`--pattern must be one of ${PATTERNS.join(', ')} (got "${pattern}").`);
  if (pattern === 'bff-proxy' && !coreExports('withBffProxy')) {
    fail(
      '--pattern=bff-proxy needs withBffProxy() in the browser, which this version of ngx-fresh-token does not have yet. ' +
        'Use --pattern=bff-session (the BFF with a session endpoint); createBff({ apis: { …: { proxy } } }) is in the README, "Proxy mode".',
    );
  }
  const apiUrls = (options.apiUrls ?? '/').split(',').map((u) => u.trim()).filter(Boolean);
  if (apiUrls.length === 0) apiUrls.push('/');
  for (const url of apiUrls) {
    const path = url.startsWith('/') && !url.startsWith('//');
    const absolute = /^https?:\/\//.test(url) && URL.canParse(url);
    // eslint-disable-next-line no-control-regex
    if ((!path && !absolute) || /[\s'"`\\\u0000-\u001f]/.test(url)) {
      fail(`--api-urls takes paths of this app ("/api") or absolute http(s) URLs ("https://api.example.com"), comma-separated (got "${url}").`);
    }
  }
  const issuer = (options.issuer ?? 'https://id.example.com').trim();
  if (!URL.canParse(issuer) || new URL(issuer).protocol !== 'https:' || /['"`\s\\]/.test(issuer)) {
    fail(`--issuer must be the identity provider's https URL (got "${issuer}").`);
  }
  const clientId = (options.clientId ?? 'web-app').trim();
  // eslint-disable-next-line no-control-regex
  if (!clientId || /[\u0000-\u001f'"`\\]/.test(clientId)) fail(`--client-id must be a non-empty client id without quotes (got "${clientId}").`);
  let tokenUrl = options.tokenUrl?.trim();
  if (tokenUrl && (!URL.canParse(tokenUrl) || new URL(tokenUrl).protocol !== 'https:' || /['"`\s\\]/.test(tokenUrl))) {
    fail(`--token-url must be an https URL (got "${tokenUrl}").`);
  }
  tokenUrl ||= new URL('token', issuer.endsWith('/') ? issuer : `${issuer}/`).href;
  let proxied: ProxiedApi[] = [];
  if (pattern === 'bff-proxy') {
    // Proxy mode: the API URLs are the app's own paths the BFF forwards (with the token, on the server).
    const paths = options.apiUrls === undefined || (apiUrls.length === 1 && apiUrls[0] === '/') ? ['/api'] : apiUrls;
    for (const path of paths) {
      if (!/^\/[A-Za-z0-9._~!$&()*+,;=:@-]+(\/[A-Za-z0-9._~!$&()*+,;=:@-]+)*$/.test(path) || /(^|\/)\.{1,2}(\/|$)/.test(path)) {
        fail(`--api-urls for --pattern=bff-proxy are paths of this app that the BFF proxies ("/api", "/api/orders"), comma-separated (got "${path}").`);
      }
    }
    if (new Set(paths).size !== paths.length) fail(`--api-urls for --pattern=bff-proxy names a path twice (got "${options.apiUrls}").`);
    proxied = proxiedApis(paths);
  }
  return { pattern, apiUrls, proxied, issuer, clientId, tokenUrl, routes: options.routes ?? true, skipInstall: options.skipInstall ?? false };
}

/** One API the BFF proxies in --pattern=bff-proxy: its path, its name in createBff's `apis` and its variables. */
export interface ProxiedApi {
  path: string;
  name: string;
  /** Prefix of its environment variables: `${env}_URL` (the upstream) and `${env}_RESOURCE` (its token's audience). */
  env: string;
}

/**
 * The APIs --pattern=bff-proxy writes, in order: each named after its path's last segment ('/api/orders' → orders) as
 * an identifier (letters, digits, `_`: an object key in server.ts without quotes), with environment variables of its
 * own (`ORDERS_API_URL`); a name or a variable prefix already taken (after folding case and `-`) gets a number.
 */
function proxiedApis(paths: readonly string[]): ProxiedApi[] {
  const names = new Set<string>();
  const envs = new Set<string>();
  return paths.map((path) => {
    const base = ((path.split('/').pop() ?? '').replace(/[^A-Za-z0-9_]/g, '_').replace(/^[^A-Za-z]+/, '') || 'api').slice(0, 56);
    const envOf = (name: string) => name.toUpperCase() + (name.toUpperCase() === 'API' ? '' : '_API');
    let name = base;
    for (let n = 2; names.has(name.toLowerCase()) || envs.has(envOf(name)); n++) name = `${base}${n}`;
    names.add(name.toLowerCase());
    envs.add(envOf(name));
    return { path, name, env: envOf(name) };
  });
}

/** What provideFreshToken(...) gets for a pattern. */
function freshTokenSetup(o: ReturnType<typeof normalize>): FreshTokenSetup {
  const urls = `withAuthorizedUrls(${o.apiUrls.map(quote).join(', ')})`;
  const core = ['withAuthorizedUrls'];
  switch (o.pattern) {
    case 'bff-session':
      return {
        features: ["withSessionEndpoint({ url: '/session/token', signOutUrl: '/auth/logout' })", urls],
        imports: { 'ngx-fresh-token': core, 'ngx-fresh-token/oauth': ['withSessionEndpoint'] },
      };
    case 'bff-proxy':
      // Proxy-only mode: no token in the browser; AuthService tracks the BFF's session (/session/user).
      return {
        features: ['withBffSession()', `withBffProxy(${o.proxied.map((a) => quote(a.path)).join(', ')})`],
        imports: { 'ngx-fresh-token': ['withBffProxy', 'withBffSession'] },
      };
    case 'refresh-token':
      return {
        features: [`withOAuthRefreshToken({ tokenUrl: ${quote(o.tokenUrl)}, clientId: ${quote(o.clientId)}, storage: 'sessionStorage' })`, urls],
        imports: { 'ngx-fresh-token': core, 'ngx-fresh-token/oauth': ['withOAuthRefreshToken'] },
      };
    case 'amplify':
      return {
        features: ["withAmplifyTokenSource({ token: 'access' })", urls],
        imports: { 'ngx-fresh-token': core, 'ngx-fresh-token/amplify': ['withAmplifyTokenSource'] },
      };
    case 'custom':
      return {
        features: ['withTokenSource(appTokenSource)', urls],
        imports: { 'ngx-fresh-token': [...core, 'withTokenSource'], './token-source': ['appTokenSource'] },
      };
  }
}

/**
 * `ng add ngx-fresh-token`: sets up the interceptor and `provideFreshToken(...)` in app.config.ts for one token
 * pattern and, for the backend-for-frontend, its server half in server.ts, a .env.example and openid-client.
 * Idempotent (a second run changes nothing and says so); refuses, changing nothing, files it cannot edit safely.
 *
 * @example ng add ngx-fresh-token --defaults
 * @example ng add ngx-fresh-token --pattern=refresh-token --issuer=https://id.example.com --client-id=spa --routes=false
 */
export function ngAdd(options: NgAddOptions): Rule {
  return async (tree: Tree, context: SchematicContext) => {
    const o = normalize(options);
    const workspace = await readWorkspace(tree);
    const apps = [...workspace.projects].filter(([, p]) => p.extensions['projectType'] === 'application').map(([n]) => n);
    const projectName = options.project ?? (apps.length === 1 ? apps[0] : undefined);
    if (!projectName) fail(`the workspace has ${apps.length} applications (${apps.join(', ')}): name one with --project.`);
    const project = workspace.projects.get(projectName);
    if (!project) fail(`there is no project "${projectName}" in angular.json.`);
    if (project.extensions['projectType'] !== 'application') fail(`"${projectName}" is not an application: ng add sets up apps; libraries import ngx-fresh-token directly.`);
    const sourceRoot = project.sourceRoot ?? posix.join(project.root, 'src');
    const appDir = posix.join(sourceRoot, 'app');
    const read = (path: string) => tree.readText(path);

    const appConfigPath = posix.join(appDir, 'app.config.ts');
    if (!tree.exists(appConfigPath)) {
      fail(
        `${appConfigPath} does not exist. It sets up the standalone layout of ng new (Angular 21 and 22: bootstrapApplication(App, appConfig)). ` +
          'For an NgModule app, add the providers by hand (README, "Quick start"). Nothing was changed.',
      );
    }
    const buildOptions = project.targets.get('build')?.options ?? {};
    const ssr = buildOptions['ssr'];
    const serverEntryOption = typeof ssr === 'object' && ssr !== null && !Array.isArray(ssr) ? (ssr as Record<string, unknown>)['entry'] : undefined;
    const serverEntry = typeof serverEntryOption === 'string' ? posix.normalize(serverEntryOption) : undefined;
    const serverRoutesPath = posix.join(appDir, 'app.routes.server.ts');
    const routesPath = posix.join(appDir, 'app.routes.ts');
    const bff = o.pattern === 'bff-session' || o.pattern === 'bff-proxy';

    // Every file is read and checked before any is written: a refusal leaves the app as it was.
    const writes: Array<{ path: string; text: string; what: string }> = [];
    const notes: string[] = [];
    const config = editAppConfig(appConfigPath, read(appConfigPath), freshTokenSetup(o));
    if (config.text !== null) writes.push({ path: appConfigPath, text: config.text, what: `provideHttpClient(... freshTokenInterceptor) and provideFreshToken(...) (${o.pattern})` });

    if (o.pattern === 'custom' && !tree.exists(posix.join(appDir, 'token-source.ts'))) {
      writes.push({ path: posix.join(appDir, 'token-source.ts'), text: customTokenSource(), what: 'appTokenSource(): your TokenSource, to fill in' });
    }
    if (bff) {
      if (serverEntry && tree.exists(serverEntry)) {
        const server = editServerEntry(serverEntry, read(serverEntry), { issuer: o.issuer, clientId: o.clientId, proxied: o.proxied });
        if (server !== null) writes.push({ path: serverEntry, text: server, what: 'createBff() mounted before the app, bff.renderContext() in every render' });
      } else {
        notes.push(
          'This app has no server (SSR): the backend-for-frontend needs one. Run `ng add @angular/ssr`, then `ng add ngx-fresh-token` again ' +
            'to mount createBff() in server.ts; or mount it in your own server (README, "Backend-for-frontend").',
        );
      }
      const envPath = '/.env.example'; // the workspace root: where `node --env-file=.env` is run
      if (!tree.exists(envPath)) {
        writes.push({ path: envPath, text: envExample(o.issuer, o.clientId, projectName, o.proxied), what: 'the variables the BFF reads (no values of secrets)' });
      } else if (!read(envPath).includes('OIDC_CLIENT_SECRET')) {
        writes.push({ path: envPath, text: `${read(envPath).replace(/\n?$/, '\n')}\n${envExample(o.issuer, o.clientId, projectName, o.proxied)}`, what: 'the variables the BFF reads (no values of secrets)' });
      }
      if (tree.exists('/.gitignore')) {
        const ignore = read('/.gitignore');
        if (!/^\/?\.env$/m.test(ignore)) writes.push({ path: '/.gitignore', text: `${ignore.replace(/\n?$/, '\n')}\n# secrets of the backend-for-frontend (ngx-fresh-token)\n.env\n`, what: '.env (secrets stay out of git)' });
      }
    }
    if (o.routes && !tree.exists(routesPath) && !/\bprovideRouter\s*\(/.test(read(appConfigPath))) {
      // An app that does not use the router (ng new --routing=false): nothing to guard, and no question to fail on.
      notes.push('This app does not use the router (no app.routes.ts, no provideRouter()): no signedInGuard() and no login/logout routes were added (README, "Route guard").');
    } else if (o.routes) {
      if (!tree.exists(routesPath)) {
        fail(`${routesPath} does not exist (an app with the router, as ng new writes it). Run again with --routes=false. Nothing was changed.`);
      }
      const routes = editRoutes(routesPath, read(routesPath));
      if (routes !== null) {
        writes.push({ path: routesPath, text: routes, what: "'login', 'logout' and 'account' (canActivate: [signedInGuard()])" });
        const files: Array<[string, string]> = [
          ['auth/login.ts', loginComponent(o.pattern)],
          ['auth/logout.ts', logoutComponent()],
          ['auth/account.ts', accountComponent()],
        ];
        for (const [file, text] of files) {
          const path = posix.join(appDir, file);
          if (!tree.exists(path)) writes.push({ path, text, what: 'a page for the routes' });
        }
      }
      if (tree.exists(serverRoutesPath)) {
        // withSessionEndpoint() sees the session in a server render (bff.renderContext); withBffSession() does not.
        const perRequest = o.pattern === 'bff-session';
        const serverRoutes = editServerRoutes(serverRoutesPath, read(serverRoutesPath), perRequest ? 'Server' : 'Client');
        if (serverRoutes !== null) writes.push({ path: serverRoutesPath, text: serverRoutes, what: `'account' rendered ${perRequest ? 'per request (the guard sees the session)' : 'in the browser'}, 'logout' in the browser` });
      }
    }

    const rules: Rule[] = [];
    const peers = ownPackage().peerDependencies ?? {};
    const packageJson = tree.exists('/package.json') ? (JSON.parse(read('/package.json')) as Record<string, Record<string, string> | undefined>) : {};
    const deps = bff ? ['openid-client'] : o.pattern === 'amplify' ? ['aws-amplify'] : [];
    for (const name of deps) {
      if (packageJson['dependencies']?.[name] || packageJson['devDependencies']?.[name]) continue;
      rules.push(
        addDependency(name, peers[name] ?? 'latest', {
          type: DependencyType.Default,
          existing: ExistingBehavior.Skip,
          install: o.skipInstall ? InstallBehavior.None : InstallBehavior.Auto,
        }),
      );
      writes.push({ path: '/package.json', text: '', what: `${name}@${peers[name] ?? 'latest'} (dependencies)` });
    }

    for (const w of writes) {
      if (!w.text) continue;
      if (tree.exists(w.path)) tree.overwrite(w.path, w.text);
      else tree.create(w.path, w.text);
    }
    if (writes.length === 0) {
      context.logger.info(`ngx-fresh-token is already set up in "${projectName}": nothing to change.`);
    } else {
      for (const w of writes) context.logger.info(`ngx-fresh-token: ${w.path.replace(/^\//, '')}: ${w.what}`);
      if (bff) context.logger.info('ngx-fresh-token: copy .env.example to .env, fill in OIDC_CLIENT_SECRET and SESSION_SECRETS, and register APP_ORIGIN/auth/callback at the identity provider.');
    }
    for (const note of notes) context.logger.warn(`ngx-fresh-token: ${note}`);
    return chain(rules);
  };
}
