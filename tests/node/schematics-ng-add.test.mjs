// `ng add ngx-fresh-token` (the built package's schematics, dist/ngx-fresh-token/schematics) on workspaces made by
// @schematics/angular's own `workspace` + `application` schematics, as `ng new` makes them (standalone, with and
// without SSR), run through @angular-devkit/schematics/testing's SchematicTestRunner. The slower end-to-end check
// (ng new from the registry, ng add from the packed tarball, ng build, the server answering) is
// tests/node/ng-add-e2e.test.mjs.
import { SchematicTestRunner } from '@angular-devkit/schematics/testing/index.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const collection = join(root, 'dist', 'ngx-fresh-token', 'schematics', 'collection.json');
const runner = new SchematicTestRunner('ngx-fresh-token', collection);
const logs = [];
runner.logger.subscribe((entry) => logs.push(`${entry.level}: ${entry.message}`));

let ssrApp; // a fresh `ng new app --ssr` tree, copied per test
let csrApp; // a fresh `ng new app --no-ssr` tree

async function newApp(ssr) {
  const ws = await runner.runExternalSchematic('@schematics/angular', 'workspace', { name: 'ws', newProjectRoot: 'projects', version: '22.2.0' });
  return runner.runExternalSchematic('@schematics/angular', 'application', { name: 'app', ssr, standalone: true, skipTests: true }, ws);
}

/** Every file of a tree, path → text. */
function snapshot(tree) {
  const files = {};
  tree.visit((path) => (files[path] = tree.read(path).toString('base64')));
  return files;
}

function branch(tree) {
  return tree.branch();
}

async function ngAdd(tree, options = {}) {
  logs.length = 0;
  const out = await runner.runSchematic('ng-add', { project: 'app', ...options }, branch(tree));
  return out;
}

/** Syntax errors of a TypeScript file (the e2e test type-checks and builds the whole app). */
function syntaxErrors(path, text) {
  const out = ts.transpileModule(text, { fileName: path, reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ES2022 } });
  return out.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

const CONFIG = '/projects/app/src/app/app.config.ts';
const SERVER = '/projects/app/src/server.ts';
const ROUTES = '/projects/app/src/app/app.routes.ts';
const SERVER_ROUTES = '/projects/app/src/app/app.routes.server.ts';

before(async () => {
  assert.ok(readFileSync(collection, 'utf8'), 'build the package first (npm run build)');
  ssrApp = await newApp(true);
  csrApp = await newApp(false);
});

describe('ng add ngx-fresh-token --defaults (BFF with a session endpoint, SSR app)', () => {
  let tree;
  before(async () => (tree = await ngAdd(ssrApp)));

  test('app.config.ts gets the interceptor on HttpClient and provideFreshToken(withSessionEndpoint(...))', () => {
    const text = tree.readText(CONFIG);
    assert.match(text, /provideHttpClient\(withFetch\(\), withInterceptors\(\[freshTokenInterceptor\]\)\)/);
    assert.match(text, /provideFreshToken\(\n\s+withSessionEndpoint\(\{ url: '\/session\/token', signOutUrl: '\/auth\/logout' \}\),\n\s+withAuthorizedUrls\('\/'\),\n\s+\)/);
    assert.match(text, /import \{ provideHttpClient, withFetch, withInterceptors \} from '@angular\/common\/http';/);
    assert.match(text, /import \{ freshTokenInterceptor, provideFreshToken, withAuthorizedUrls \} from 'ngx-fresh-token';/);
    assert.match(text, /import \{ withSessionEndpoint \} from 'ngx-fresh-token\/oauth';/);
    // What ng new put there stays.
    assert.match(text, /provideRouter\(routes\)/);
    assert.match(text, /provideClientHydration\(/);
    assert.deepEqual(syntaxErrors(CONFIG, text), []);
  });

  test('server.ts mounts createBff() before static files and passes bff.renderContext() to every render', () => {
    const text = tree.readText(SERVER);
    assert.match(text, /import \{ createBff \} from 'ngx-fresh-token\/bff';/);
    assert.match(text, /createWebRequestFromNodeRequest,?\s/);
    assert.match(text, /clientSecret: requiredEnv\('OIDC_CLIENT_SECRET'\)/);
    assert.match(text, /secrets: requiredEnv\('SESSION_SECRETS'\)\.split\(','\)/);
    assert.match(text, /issuer: process\.env\['OIDC_ISSUER'\] \?\? 'https:\/\/id\.example\.com'/);
    // The BFF answers through handleNode (node:http in and out); false: the next middleware.
    assert.match(text, /\.then\(\(b\) => b\.handleNode\(req, res\)\)\n\s+\.then\(\(done\) => done \|\| next\(\)\)/);
    assert.match(text, /sessionContext\(req\)\.then\(\(context\) => angularApp\.handle\(req, context\)\)/);
    assert.match(text, /return \(await bff\(\)\)\.renderContext\(createWebRequestFromNodeRequest\(req\)\);/);
    // The BFF's middleware comes before express.static and before the render.
    const bffUse = text.indexOf('b.handleNode(');
    assert.ok(bffUse > 0 && bffUse < text.indexOf('express.static('), 'the BFF comes before static files');
    assert.ok(bffUse < text.indexOf('angularApp.handle('));
    assert.deepEqual(syntaxErrors(SERVER, text), []);
  });

  test('.env.example names every variable, with no value for a secret; .env is git-ignored', () => {
    const env = tree.readText('/.env.example');
    for (const name of ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'SESSION_SECRETS', 'APP_ORIGIN', 'NG_ALLOWED_HOSTS']) assert.match(env, new RegExp(`^${name}=`, 'm'));
    assert.match(env, /^OIDC_CLIENT_SECRET=$/m);
    assert.match(env, /^SESSION_SECRETS=$/m);
    assert.match(tree.readText('/.gitignore'), /^\.env$/m);
  });

  test('openid-client is added to dependencies with the package\'s peer range, and npm install is scheduled', () => {
    const pkg = JSON.parse(tree.readText('/package.json'));
    const ours = JSON.parse(readFileSync(join(root, 'dist', 'ngx-fresh-token', 'package.json'), 'utf8'));
    assert.equal(pkg.dependencies['openid-client'], ours.peerDependencies['openid-client']);
    assert.ok(runner.tasks.some((t) => t.name === 'node-package'), 'an install task');
  });

  test('the routes: login, logout and account behind signedInGuard(); account rendered per request', () => {
    const routes = tree.readText(ROUTES);
    assert.match(routes, /\{ path: 'account', component: Account, canActivate: \[signedInGuard\(\)\] \}/);
    assert.match(routes, /\{ path: 'login', component: Login \}/);
    assert.match(routes, /\{ path: 'logout', component: Logout \}/);
    assert.match(routes, /import \{ signedInGuard \} from 'ngx-fresh-token';/);
    const serverRoutes = tree.readText(SERVER_ROUTES);
    assert.ok(serverRoutes.indexOf("path: 'account', renderMode: RenderMode.Server") < serverRoutes.indexOf("path: '**'"));
    assert.match(serverRoutes, /path: 'logout', renderMode: RenderMode\.Client/);
    for (const file of ['login', 'logout', 'account']) {
      const path = `/projects/app/src/app/auth/${file}.ts`;
      assert.deepEqual(syntaxErrors(path, tree.readText(path)), [], path);
    }
    assert.match(tree.readText('/projects/app/src/app/auth/login.ts'), /\/auth\/login\?returnUrl=/);
  });

  test('no file holds a client secret: there is no option for one, and none is written', () => {
    const schema = JSON.parse(readFileSync(join(dirname(collection), 'ng-add', 'schema.json'), 'utf8'));
    assert.deepEqual(Object.keys(schema.properties).filter((k) => /secret/i.test(k)), []);
    tree.visit((path) => assert.doesNotMatch(tree.read(path).toString(), /clientSecret: ['"`]/, path));
  });

  test('a second run changes nothing, installs nothing and says so', async () => {
    const before = snapshot(tree);
    const again = await ngAdd(tree);
    assert.deepEqual(snapshot(again), before);
    assert.ok(logs.some((l) => /already set up in "app": nothing to change/.test(l)), logs.join('\n'));
    assert.ok(!runner.tasks.some((t) => t.name === 'node-package'), 'no install task');
  });
});

describe('ng add ngx-fresh-token: other patterns and options', () => {
  test('--pattern=refresh-token: withOAuthRefreshToken with the token URL and client id, no server half', async () => {
    const tree = await ngAdd(ssrApp, { pattern: 'refresh-token', issuer: 'https://id.example.org/realms/a', clientId: 'spa', apiUrls: '/api, https://api.example.org' });
    const text = tree.readText(CONFIG);
    assert.match(text, /withOAuthRefreshToken\(\{ tokenUrl: 'https:\/\/id\.example\.org\/realms\/a\/token', clientId: 'spa', storage: 'sessionStorage' \}\)/);
    assert.match(text, /withAuthorizedUrls\('\/api', 'https:\/\/api\.example\.org'\)/);
    assert.equal(tree.readText(SERVER), ssrApp.readText(SERVER));
    assert.equal(tree.exists('/.env.example'), false);
    assert.equal(JSON.parse(tree.readText('/package.json')).dependencies['openid-client'], undefined);
    assert.match(tree.readText(SERVER_ROUTES), /path: 'account', renderMode: RenderMode\.Client/);
  });

  test('--pattern=amplify: withAmplifyTokenSource and aws-amplify', async () => {
    const tree = await ngAdd(csrApp, { pattern: 'amplify', routes: false });
    assert.match(tree.readText(CONFIG), /withAmplifyTokenSource\(\{ token: 'access' \}\)/);
    assert.match(tree.readText(CONFIG), /import \{ withAmplifyTokenSource \} from 'ngx-fresh-token\/amplify';/);
    assert.ok(JSON.parse(tree.readText('/package.json')).dependencies['aws-amplify']);
  });

  test('--pattern=custom: a TokenSource file to fill in, given to withTokenSource()', async () => {
    const tree = await ngAdd(csrApp, { pattern: 'custom', routes: false });
    assert.match(tree.readText(CONFIG), /withTokenSource\(appTokenSource\)/);
    assert.match(tree.readText(CONFIG), /import \{ appTokenSource \} from '.\/token-source';/);
    const source = tree.readText('/projects/app/src/app/token-source.ts');
    assert.match(source, /export function appTokenSource\(\): TokenSource/);
    assert.deepEqual(syntaxErrors('token-source.ts', source), []);
  });

  test('--pattern=bff-proxy: proxy-only mode — withBffSession() and withBffProxy(paths); createBff forwards each API, hands out no token', async () => {
    const tree = await ngAdd(ssrApp, { pattern: 'bff-proxy', apiUrls: '/api/orders, /api/catalog' });
    const config = tree.readText(CONFIG);
    assert.match(config, /provideFreshToken\(\n\s+withBffSession\(\),\n\s+withBffProxy\('\/api\/orders', '\/api\/catalog'\),\n\s+\)/);
    assert.match(config, /import \{ freshTokenInterceptor, provideFreshToken, withBffProxy, withBffSession \} from 'ngx-fresh-token';/);
    assert.doesNotMatch(config, /withSessionEndpoint|withAuthorizedUrls/);
    const server = tree.readText(SERVER);
    assert.match(server, /handOutTokens: false,/);
    assert.match(server, /orders: \{\n\s+resource: process\.env\['ORDERS_API_RESOURCE'\] \?\? 'https:\/\/orders\.example\.com',/);
    assert.match(server, /proxy: \{ path: '\/api\/orders', target: process\.env\['ORDERS_API_URL'\] \?\? 'https:\/\/orders\.example\.com', token: 'user' \}/);
    assert.match(server, /proxy: \{ path: '\/api\/catalog', target: process\.env\['CATALOG_API_URL'\]/);
    // handleNode forwards the socket's address as X-Forwarded-For itself.
    assert.match(server, /b\.handleNode\(req, res\)/);
    assert.match(server, /BFF's routes \(\/auth\/\*, \/session\/\* and the proxied APIs\)/);
    assert.deepEqual(syntaxErrors(SERVER, server), []);
    const env = tree.readText('/.env.example');
    for (const name of ['ORDERS_API_URL', 'ORDERS_API_RESOURCE', 'CATALOG_API_URL', 'CATALOG_API_RESOURCE']) assert.match(env, new RegExp(`^${name}=`, 'm'));
    // withBffSession() knows no session in a server render: the guarded page renders in the browser.
    assert.match(tree.readText(SERVER_ROUTES), /path: 'account', renderMode: RenderMode\.Client/);
    assert.ok(JSON.parse(tree.readText('/package.json')).dependencies['openid-client']);
  });

  test('--pattern=bff-proxy with the default API URL proxies /api; an absolute URL or / alone is refused', async () => {
    const tree = await ngAdd(ssrApp, { pattern: 'bff-proxy' });
    assert.match(tree.readText(CONFIG), /withBffProxy\('\/api'\)/);
    assert.match(tree.readText(SERVER), /api: \{\n\s+resource: process\.env\['API_RESOURCE'\]/);
    await assert.rejects(ngAdd(ssrApp, { pattern: 'bff-proxy', apiUrls: 'https://api.example.com' }), /--api-urls for --pattern=bff-proxy are paths of this app/);
    await assert.rejects(ngAdd(ssrApp, { pattern: 'bff-proxy', apiUrls: '/api/../x' }), /--api-urls for --pattern=bff-proxy/);
  });

  // Attacker review: '-' in a path made an unquoted object key (server.ts did not parse), and renamed APIs could
  // share a name or their environment variables.
  test('--pattern=bff-proxy: every API gets a distinct identifier and variables of its own, whatever its path; a path named twice is refused', async () => {
    const tree = await ngAdd(ssrApp, { pattern: 'bff-proxy', apiUrls: '/my-api,/x3,/x,/api/x,/Orders,/orders,/a-b,/a_b' });
    const server = tree.readText(SERVER);
    assert.deepEqual(syntaxErrors(SERVER, server), []);
    const names = [...server.matchAll(/^\s{6}([A-Za-z][A-Za-z0-9_]*): \{$/gm)].map((m) => m[1]);
    assert.equal(names.length, 8, server);
    assert.equal(new Set(names.map((n) => n.toLowerCase())).size, 8, `names: ${names}`);
    const env = tree.readText('/.env.example');
    const urls = [...env.matchAll(/^([A-Z0-9_]+)_URL=/gm)].map((m) => m[1]).filter((v) => v !== 'APP_ORIGIN');
    assert.equal(new Set(urls).size, urls.length, `variables: ${urls}`);
    await assert.rejects(ngAdd(ssrApp, { pattern: 'bff-proxy', apiUrls: '/x,/x' }), /names a path twice/);
  });

  test('a server.ts that already declares a name ng add would declare (requiredEnv, bff, …) is refused, nothing changed', async () => {
    const own = branch(ssrApp);
    own.overwrite(SERVER, `${own.readText(SERVER)}\nfunction requiredEnv(name: string): string {\n  return process.env[name] ?? '';\n}\n`);
    await assert.rejects(ngAdd(own), /already declares requiredEnv/);
  });

  test('--routes=false leaves the routes alone', async () => {
    const tree = await ngAdd(ssrApp, { routes: false });
    assert.equal(tree.readText(ROUTES), ssrApp.readText(ROUTES));
    assert.equal(tree.readText(SERVER_ROUTES), ssrApp.readText(SERVER_ROUTES));
    assert.equal(tree.exists('/projects/app/src/app/auth/login.ts'), false);
  });

  test('an app without the router (ng new --routing=false): --defaults sets up the rest, adds no guard or routes and says why; an app that provides the router but has no app.routes.ts is refused', async () => {
    const ws = await runner.runExternalSchematic('@schematics/angular', 'workspace', { name: 'ws', newProjectRoot: 'projects', version: '22.2.0' });
    const app = await runner.runExternalSchematic('@schematics/angular', 'application', { name: 'app', ssr: false, standalone: true, skipTests: true, routing: false }, ws);
    assert.equal(app.exists(ROUTES), false);
    assert.doesNotMatch(app.readText(CONFIG), /provideRouter/);
    const tree = await ngAdd(app);
    assert.match(tree.readText(CONFIG), /provideFreshToken\(/);
    assert.match(tree.readText(CONFIG), /withInterceptors\(\[freshTokenInterceptor\]\)/);
    assert.doesNotMatch(tree.readText(CONFIG), /signedInGuard|@angular\/router/);
    assert.equal(tree.exists(ROUTES), false);
    assert.equal(tree.exists('/projects/app/src/app/auth/login.ts'), false);
    assert.ok(logs.some((l) => /^warn: .*does not use the router .*no signedInGuard\(\)/.test(l)), logs.join('\n'));
    // The router provided, its routes somewhere ng add does not know: refused, nothing changed.
    const routed = branch(app);
    routed.overwrite(CONFIG, routed.readText(CONFIG).replace('providers: [', "providers: [\n    provideRouter(appRoutes),").replace(/^/, "import { provideRouter } from '@angular/router';\nimport { appRoutes } from './routing/routes';\n"));
    await assert.rejects(ngAdd(routed), /app\.routes\.ts does not exist.*--routes=false/s);
  });

  test('the BFF on an app without SSR: the browser half, .env.example, and a warning naming ng add @angular/ssr', async () => {
    const tree = await ngAdd(csrApp);
    assert.match(tree.readText(CONFIG), /withSessionEndpoint\(/);
    assert.ok(tree.exists('/.env.example'));
    assert.ok(logs.some((l) => /^warn: .*ng add @angular\/ssr/.test(l)), logs.join('\n'));
  });

  test('an app\'s own provideHttpClient(...) keeps its features and gets the interceptor; no second provideHttpClient', async () => {
    const own = branch(ssrApp);
    own.overwrite(CONFIG, own.readText(CONFIG).replace('provideRouter(routes)', 'provideHttpClient(withFetch()),\n    provideRouter(routes)').replace(/^/, "import { provideHttpClient, withFetch } from '@angular/common/http';\n"));
    const text = (await ngAdd(own)).readText(CONFIG);
    assert.equal(text.match(/provideHttpClient\(/g).length, 1);
    assert.match(text, /provideHttpClient\(withFetch\(\), withInterceptors\(\[freshTokenInterceptor\]\)\)/);
    assert.match(text, /import \{ provideHttpClient, withFetch, withInterceptors \} from '@angular\/common\/http';/);
    assert.deepEqual(syntaxErrors(CONFIG, text), []);
  });

  test('an app\'s own withInterceptors([...]) gets freshTokenInterceptor last', async () => {
    const own = branch(ssrApp);
    own.overwrite(CONFIG, own.readText(CONFIG).replace('provideRouter(routes)', 'provideHttpClient(withInterceptors([logging])),\n    provideRouter(routes)'));
    const text = (await ngAdd(own)).readText(CONFIG);
    assert.match(text, /provideHttpClient\(withInterceptors\(\[logging, freshTokenInterceptor\]\)\)/);
  });
});

describe('ng add ngx-fresh-token refuses what it cannot edit safely, changing nothing', () => {
  const cases = [
    ['an app.config.ts without an appConfig object literal', CONFIG, () => "import { ApplicationConfig } from '@angular/core';\nexport const appConfig: ApplicationConfig = makeConfig();\n", /app\.config\.ts is not in a shape it can edit safely \(appConfig is not an object literal\)/],
    ['providers that are not an array literal', CONFIG, () => 'export const appConfig = { providers: sharedProviders };\n', /"providers" is not an array literal/],
    ['withInterceptors() given a variable', CONFIG, (t) => t.replace('provideRouter(routes)', 'provideHttpClient(withInterceptors(interceptors)), provideRouter(routes)'), /withInterceptors\(\) is not given an array literal/],
    ['a server.ts without AngularNodeAppEngine', SERVER, () => "import express from 'express';\nconst app = express();\nexport default app;\n", /server\.ts is not in a shape it can edit safely \(no top-level `const angularApp = new AngularNodeAppEngine\(\)`\)/],
    ['routes that are not an array literal', ROUTES, () => "import { Routes } from '@angular/router';\nexport const routes: Routes = buildRoutes();\n", /app\.routes\.ts is not in a shape it can edit safely.*--routes=false/s],
  ];
  for (const [name, path, edit, message] of cases) {
    test(name, async () => {
      const tree = branch(ssrApp);
      tree.overwrite(path, edit(tree.readText(path)));
      const before = snapshot(tree);
      await assert.rejects(runner.runSchematic('ng-add', { project: 'app' }, tree), (err) => {
        assert.match(err.message, message);
        assert.match(err.message, /Nothing was changed/);
        return true;
      });
      assert.deepEqual(snapshot(tree), before);
    });
  }

  test('flags are checked: --issuer must be https, --api-urls paths or http(s) URLs', async () => {
    await assert.rejects(ngAdd(ssrApp, { issuer: 'http://id.example.com' }), /--issuer must be the identity provider's https URL/);
    await assert.rejects(ngAdd(ssrApp, { apiUrls: "javascript:alert('x')" }), /--api-urls takes paths of this app/);
    await assert.rejects(ngAdd(ssrApp, { apiUrls: '//evil.example' }), /--api-urls/);
  });
});
