#!/usr/bin/env node
// Bytes each library adds to a minimal Angular app's initial JS, measured with the real `ng build`
// (@angular/build:application, production configuration). Generates one tiny standalone app per
// variant as a project of one workspace in bench/.apps (ignored by git), builds them one after the
// other, and sums gzip -9 of the JS files index.html loads up front (module scripts and
// modulepreload links). ngx-fresh-token comes from the repo's dist (linked into node_modules),
// the peers from bench/node_modules, Angular/RxJS/aws-amplify from the root node_modules.
//   node bench/apps.mjs [--only=baseline,nft-core] [--json=out.json]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const workspace = join(here, '.apps');

// The component every app has: one HttpClient GET to the API, its answer and (`status`) the
// library's auth status in the template. `imports`/`fields`/`status` add the library's part.
function component({ imports = '', fields = '', status = "''" } = {}) {
  return `import { Component, inject, signal } from '@angular/core';
import { HttpClient } from '@angular/common/http';
${imports}
@Component({
  selector: 'app-root',
  template: '<p>{{ data() }}</p><p>{{ status() }}</p>',
})
export class App {
  private readonly http = inject(HttpClient);
${fields}
  readonly data = signal('');
  readonly status = () => ${status};
  constructor() {
    this.http.get('https://api.example.com/items', { responseType: 'text' }).subscribe((body) => this.data.set(body));
  }
}
`;
}

function main({ imports = '', providers, before = '' }) {
  return `import { bootstrapApplication } from '@angular/platform-browser';
import { provideHttpClient, withInterceptors, withInterceptorsFromDi } from '@angular/common/http';
import { App } from './app';
${imports}
${before}
bootstrapApplication(App, {
  providers: [
    ${providers.join(',\n    ')},
  ],
}).catch((err) => console.error(err));
`;
}

// The app's token source: one fetch() (the library's code is what is measured, not the app's).
const NFT_SOURCE = `withTokenSource({ getToken: () => fetch('/auth/token', { method: 'POST' }).then((r) => r.json()) })`;
const NFT_COMPONENT = component({
  imports: "import { AuthService } from 'ngx-fresh-token';",
  fields: '  private readonly auth = inject(AuthService);',
  status: 'this.auth.state().status',
});
const AMPLIFY_OUTPUTS = `{
  version: '1.4',
  auth: {
    aws_region: 'eu-west-1',
    user_pool_id: 'eu-west-1_example',
    user_pool_client_id: 'exampleclientid',
  },
}`;

/** The variants: `group` says what the added bytes are measured against. */
export const VARIANTS = [
  {
    name: 'baseline',
    label: 'baseline: standalone app, provideHttpClient, one GET',
    app: component(),
    main: main({ providers: ['provideHttpClient()'] }),
  },
  {
    name: 'nft-core',
    label: 'ngx-fresh-token (core)',
    against: 'baseline',
    app: NFT_COMPONENT,
    main: main({
      imports: "import { freshTokenInterceptor, provideFreshToken, withAuthorizedUrls, withTokenSource } from 'ngx-fresh-token';",
      providers: [
        'provideHttpClient(withInterceptors([freshTokenInterceptor]))',
        `provideFreshToken(
      ${NFT_SOURCE},
      withAuthorizedUrls('/', 'https://api.example.com'),
    )`,
      ],
    }),
  },
  {
    name: 'nft-oauth',
    label: 'ngx-fresh-token core + oauth (withOAuthRefreshToken)',
    against: 'baseline',
    app: NFT_COMPONENT,
    main: main({
      imports: `import { freshTokenInterceptor, provideFreshToken, withAuthorizedUrls } from 'ngx-fresh-token';
import { withOAuthRefreshToken } from 'ngx-fresh-token/oauth';`,
      providers: [
        'provideHttpClient(withInterceptors([freshTokenInterceptor]))',
        `provideFreshToken(
      withOAuthRefreshToken({ tokenUrl: 'https://auth.example.com/token', clientId: 'spa', storage: 'sessionStorage' }),
      withAuthorizedUrls('/', 'https://api.example.com'),
    )`,
      ],
    }),
  },
  {
    name: 'amplify-baseline',
    label: 'baseline + aws-amplify (Amplify.configure, fetchAuthSession)',
    against: 'baseline',
    app: component({
      imports: "import { fetchAuthSession } from 'aws-amplify/auth';",
      fields: "  private readonly session = signal('');\n",
      status: 'this.session()',
    }).replace(
      'constructor() {',
      "constructor() {\n    fetchAuthSession().then((s) => this.session.set(s.tokens ? 'signed-in' : 'signed-out'));",
    ),
    main: main({
      imports: "import { Amplify } from 'aws-amplify';",
      before: `Amplify.configure(${AMPLIFY_OUTPUTS});`,
      providers: ['provideHttpClient()'],
    }),
  },
  {
    name: 'nft-amplify',
    label: 'ngx-fresh-token core + amplify (withAmplifyTokenSource, aws-amplify)',
    against: 'baseline',
    alsoAgainst: 'amplify-baseline',
    app: NFT_COMPONENT,
    main: main({
      imports: `import { Amplify } from 'aws-amplify';
import { freshTokenInterceptor, provideFreshToken, withAuthorizedUrls } from 'ngx-fresh-token';
import { withAmplifyTokenSource } from 'ngx-fresh-token/amplify';`,
      before: `Amplify.configure(${AMPLIFY_OUTPUTS});`,
      providers: [
        'provideHttpClient(withInterceptors([freshTokenInterceptor]))',
        `provideFreshToken(withAmplifyTokenSource({ token: 'access' }), withAuthorizedUrls('/', 'https://api.example.com'))`,
      ],
    }),
  },
  {
    name: 'auth0-angular-jwt',
    label: '@auth0/angular-jwt (JwtModule.forRoot, tokenGetter)',
    against: 'baseline',
    app: component({
      imports: "import { JwtHelperService } from '@auth0/angular-jwt';",
      fields: '  private readonly jwt = inject(JwtHelperService);',
      status: "this.jwt.isTokenExpired(localStorage.getItem('access_token')) ? 'expired' : 'fresh'",
    }),
    main: main({
      imports: `import { importProvidersFrom } from '@angular/core';
import { JwtModule } from '@auth0/angular-jwt';`,
      providers: [
        'provideHttpClient(withInterceptorsFromDi())',
        `importProvidersFrom(
      JwtModule.forRoot({ config: { tokenGetter: () => localStorage.getItem('access_token'), allowedDomains: ['api.example.com'] } }),
    )`,
      ],
    }),
  },
  {
    name: 'angular-oauth2-oidc',
    label: 'angular-oauth2-oidc (provideOAuthClient, sendAccessToken, silent refresh)',
    against: 'baseline',
    app: component({
      imports: "import { OAuthService } from 'angular-oauth2-oidc';",
      fields: `  private readonly oauth = inject(OAuthService);`,
      status: "this.oauth.hasValidAccessToken() ? 'fresh' : 'signed-out'",
    }).replace(
      'constructor() {',
      `constructor() {
    this.oauth.configure({ issuer: 'https://auth.example.com', clientId: 'spa', responseType: 'code', redirectUri: location.origin, scope: 'openid offline_access' });
    this.oauth.loadDiscoveryDocumentAndTryLogin();
    this.oauth.setupAutomaticSilentRefresh();`,
    ),
    main: main({
      imports: "import { provideOAuthClient } from 'angular-oauth2-oidc';",
      providers: [
        'provideHttpClient(withInterceptorsFromDi())',
        "provideOAuthClient({ resourceServer: { allowedUrls: ['https://api.example.com'], sendAccessToken: true } })",
      ],
    }),
  },
  {
    name: 'keycloak-angular',
    label: 'keycloak-angular + keycloak-js (provideKeycloak, includeBearerTokenInterceptor)',
    against: 'baseline',
    app: component({
      imports: "import Keycloak from 'keycloak-js';",
      fields: '  private readonly keycloak = inject(Keycloak);',
      status: "this.keycloak.authenticated ? 'signed-in' : 'signed-out'",
    }),
    main: main({
      imports: `import {
  INCLUDE_BEARER_TOKEN_INTERCEPTOR_CONFIG,
  IncludeBearerTokenCondition,
  createInterceptorCondition,
  includeBearerTokenInterceptor,
  provideKeycloak,
} from 'keycloak-angular';`,
      before: `const urlCondition = createInterceptorCondition<IncludeBearerTokenCondition>({
  urlPattern: /^(https:\\/\\/api\\.example\\.com)(\\/.*)?$/i,
  bearerPrefix: 'Bearer',
});`,
      providers: [
        `provideKeycloak({
      config: { url: 'https://auth.example.com', realm: 'example', clientId: 'spa' },
      initOptions: { onLoad: 'check-sso', silentCheckSsoRedirectUri: window.location.origin + '/silent-check-sso.html' },
    })`,
        '{ provide: INCLUDE_BEARER_TOKEN_INTERCEPTOR_CONFIG, useValue: [urlCondition] }',
        'provideHttpClient(withInterceptors([includeBearerTokenInterceptor]))',
      ],
    }),
  },
  {
    name: 'angular-auth-oidc-client',
    label: 'angular-auth-oidc-client (provideAuth, authInterceptor, refresh tokens)',
    against: 'baseline',
    app: component({
      imports: "import { OidcSecurityService } from 'angular-auth-oidc-client';",
      fields: '  private readonly oidc = inject(OidcSecurityService);',
      status: "this.oidc.authenticated().isAuthenticated ? 'signed-in' : 'signed-out'",
    }).replace('constructor() {', 'constructor() {\n    this.oidc.checkAuth().subscribe();'),
    main: main({
      imports: "import { authInterceptor, provideAuth } from 'angular-auth-oidc-client';",
      providers: [
        'provideHttpClient(withInterceptors([authInterceptor()]))',
        `provideAuth({
      config: {
        authority: 'https://auth.example.com',
        redirectUrl: window.location.origin,
        clientId: 'spa',
        scope: 'openid offline_access',
        responseType: 'code',
        silentRenew: true,
        useRefreshToken: true,
        secureRoutes: ['https://api.example.com/'],
      },
    })`,
      ],
    }),
  },
];

function writeWorkspace(variants) {
  mkdirSync(workspace, { recursive: true });
  const projects = {};
  for (const v of variants) {
    const dir = join(workspace, 'projects', v.name);
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeIfChanged(join(dir, 'src', 'app.ts'), v.app);
    writeIfChanged(join(dir, 'src', 'main.ts'), v.main);
    writeIfChanged(
      join(dir, 'src', 'index.html'),
      '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>bench</title><base href="/"></head>\n<body><app-root></app-root></body>\n</html>\n',
    );
    writeIfChanged(
      join(dir, 'tsconfig.app.json'),
      JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { outDir: `../../out-tsc/${v.name}` }, files: ['src/main.ts'] }, null, 2),
    );
    projects[v.name] = {
      projectType: 'application',
      root: `projects/${v.name}`,
      sourceRoot: `projects/${v.name}/src`,
      architect: {
        build: {
          builder: '@angular/build:application',
          options: {
            browser: `projects/${v.name}/src/main.ts`,
            index: `projects/${v.name}/src/index.html`,
            tsConfig: `projects/${v.name}/tsconfig.app.json`,
            outputPath: `dist/${v.name}`,
            outputHashing: 'none',
          },
          configurations: { production: { optimization: true, sourceMap: false, extractLicenses: true, budgets: [] } },
          defaultConfiguration: 'production',
        },
      },
    };
  }
  writeIfChanged(
    join(workspace, 'angular.json'),
    JSON.stringify({ version: 1, cli: { analytics: false, cache: { enabled: true, environment: 'all' } }, newProjectRoot: 'projects', projects }, null, 2),
  );
  writeIfChanged(
    join(workspace, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          strict: true,
          skipLibCheck: true,
          isolatedModules: true,
          experimentalDecorators: true,
          importHelpers: true,
          target: 'ES2022',
          module: 'preserve',
          moduleResolution: 'bundler',
          lib: ['ES2022', 'dom'],
        },
        angularCompilerOptions: { strictTemplates: true },
      },
      null,
      2,
    ),
  );
}

function writeIfChanged(file, text) {
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
  writeFileSync(file, text);
}

/** gzip -9 of the JS index.html loads up front: module scripts and modulepreload links. */
function initialJs(name) {
  const browser = join(workspace, 'dist', name, 'browser');
  const html = readFileSync(join(browser, 'index.html'), 'utf8');
  const files = new Set();
  for (const m of html.matchAll(/<script[^>]*\ssrc="([^"]+\.js)"/g)) files.add(m[1]);
  for (const m of html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+\.js)"/g)) files.add(m[1]);
  for (const m of html.matchAll(/<link[^>]*href="([^"]+\.js)"[^>]*rel="modulepreload"/g)) files.add(m[1]);
  let minBytes = 0;
  let gzipBytes = 0;
  for (const f of files) {
    const code = readFileSync(join(browser, f));
    minBytes += code.length;
    gzipBytes += gzipSync(code, { level: 9 }).length;
  }
  return { files: [...files].sort(), minBytes, gzipBytes };
}

/** Builds every variant (sequentially: a 2-core machine gains nothing from parallel builds). */
export function measureApps({ only, log = console.log } = {}) {
  const variants = VARIANTS.filter((v) => !only || only.includes(v.name));
  writeWorkspace(VARIANTS);
  const ng = join(root, 'node_modules', '@angular', 'cli', 'bin', 'ng.js');
  const rows = {};
  for (const v of variants) {
    const start = Date.now();
    rmSync(join(workspace, 'dist', v.name), { recursive: true, force: true });
    const res = spawnSync(process.execPath, [ng, 'build', v.name], {
      cwd: workspace,
      encoding: 'utf8',
      env: { ...process.env, NG_CLI_ANALYTICS: 'false', NG_FORCE_TTY: 'false', FORCE_COLOR: '0' },
    });
    if (res.status !== 0) {
      rows[v.name] = { label: v.label, error: `ng build failed: ${(res.stdout + res.stderr).trim().split('\n').slice(-15).join('\n')}` };
      log(`  ng build ${v.name}: FAILED\n${rows[v.name].error}`);
      continue;
    }
    rows[v.name] = { label: v.label, ...initialJs(v.name), buildMs: Date.now() - start };
    log(`  ng build ${v.name}: ${rows[v.name].gzipBytes} B gzip initial JS (${((Date.now() - start) / 1000).toFixed(1)} s)`);
  }
  for (const v of variants) {
    const row = rows[v.name];
    if (row.error) continue;
    for (const key of ['against', 'alsoAgainst']) {
      const base = v[key] && rows[v[key]];
      if (base && !base.error) row[key === 'against' ? 'addedGzipBytes' : 'addedGzipBytesVsAmplifyApp'] = row.gzipBytes - base.gzipBytes;
      if (base && !base.error && key === 'against') row.addedMinBytes = row.minBytes - base.minBytes;
    }
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const onlyArg = process.argv.find((a) => a.startsWith('--only='));
  const rows = measureApps({ only: onlyArg?.slice(7).split(',') });
  console.table(Object.fromEntries(Object.entries(rows).map(([k, r]) => [k, { gzip: r.gzipBytes, added: r.addedGzipBytes, ms: r.buildMs, error: r.error?.slice(0, 60) }])));
}
