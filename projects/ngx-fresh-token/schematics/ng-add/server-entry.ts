import { SchematicsException } from '@angular-devkit/schematics';
import type * as TS from 'typescript';
import { applyEdits, calleeName, calls, importEdits, Insertion, parse, quote, Replacement, typescript } from './typescript';

/** What the backend-for-frontend is configured with: defaults of the environment variables. */
export interface BffServerSetup {
  issuer: string;
  clientId: string;
  /** Proxy mode: the APIs the BFF forwards, with the session's token, on the server (none: the session endpoint). */
  proxied?: Array<{ path: string; name: string; env: string }>;
}

function refuse(path: string, why: string): never {
  throw new SchematicsException(
    `ng add ngx-fresh-token: ${path} is not in a shape it can edit safely (${why}). Nothing was changed. ` +
      'It edits the Express server.ts that ng new --ssr and ng add @angular/ssr write (an express() app, an ' +
      'AngularNodeAppEngine and its handle(req) call). Mount createBff() by hand: README, "Backend-for-frontend" → ' +
      '"Server: Angular SSR with Express 5".',
  );
}

/**
 * Mounts the backend-for-frontend in the SSR server: `createBff()` from environment variables (created at the first
 * request, so that the server and `ng serve` start before they are set), its routes before static files, and the
 * request's session in every render (`bff.renderContext`). Returns null when server.ts already calls createBff.
 */
export function editServerEntry(path: string, text: string, setup: BffServerSetup): string | null {
  const ts = typescript();
  const source = parse(path, text);
  const all = calls(source);
  if (all.some((c) => calleeName(c) === 'createBff')) return null;

  // The anchors: `const app = express()` and `const angularApp = new AngularNodeAppEngine()` at the top level.
  let appDecl: TS.VariableStatement | undefined;
  let appName = '';
  let engineDecl: TS.VariableStatement | undefined;
  let engineName = '';
  for (const st of source.statements) {
    if (!ts.isVariableStatement(st)) continue;
    for (const d of st.declarationList.declarations) {
      if (!ts.isIdentifier(d.name) || !d.initializer) continue;
      if (ts.isCallExpression(d.initializer) && ts.isIdentifier(d.initializer.expression) && d.initializer.expression.text === 'express') {
        appDecl = st;
        appName = d.name.text;
      }
      if (ts.isNewExpression(d.initializer) && ts.isIdentifier(d.initializer.expression) && d.initializer.expression.text === 'AngularNodeAppEngine') {
        engineDecl = st;
        engineName = d.name.text;
      }
    }
  }
  // The block declares these at the top level: a file that has one of them already would not load.
  const declared = new Set<string>();
  for (const st of source.statements) {
    if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) && st.name) declared.add(st.name.text);
    if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) declared.add(d.name.text);
    if (ts.isImportDeclaration(st) && st.importClause) {
      if (st.importClause.name) declared.add(st.importClause.name.text);
      const bindings = st.importClause.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) for (const e of bindings.elements) if (e.name.text !== 'createBff') declared.add(e.name.text);
      if (bindings && ts.isNamespaceImport(bindings)) declared.add(bindings.name.text);
    }
  }
  const taken = ['bffInstance', 'bff', 'requiredEnv', 'sessionContext'].filter((name) => declared.has(name));
  if (taken.length) refuse(path, `it already declares ${taken.join(', ')}, which ng add would declare too`);
  if (!appDecl) refuse(path, 'no top-level `const app = express()`');
  if (!engineDecl) refuse(path, 'no top-level `const angularApp = new AngularNodeAppEngine()`');
  const renders = all.filter(
    (c) => ts.isPropertyAccessExpression(c.expression) && calleeName(c) === `${engineName}.handle`,
  );
  if (renders.length !== 1) refuse(path, `${renders.length === 0 ? 'no' : 'more than one'} ${engineName}.handle(...) call`);
  const render = renders[0];
  if (render.arguments.length !== 1 || !ts.isIdentifier(render.arguments[0])) {
    refuse(path, `${engineName}.handle(...) is not called with the request alone`);
  }
  const req = (render.arguments[0] as TS.Identifier).text;
  // Ours must come before every other middleware: after the later of the two anchors, before the first `app.use`.
  const anchorEnd = Math.max(appDecl.end, engineDecl.end);
  const firstUse = all.find((c) => calleeName(c) === `${appName}.use`);
  if (firstUse && firstUse.getStart() < anchorEnd) refuse(path, `${appName}.use(...) comes before ${engineName} is created`);

  const block = `

/**
 * ngx-fresh-token (ng add): the backend-for-frontend — sign-in at the identity provider, the session cookie,
 * /session/token for the browser and the session in server renders. Configured from the environment (.env.example
 * names the variables); the client secret is read from OIDC_CLIENT_SECRET and never written to a file. Created at the
 * first request (again after a failure), so that the server and \`ng serve\` start before the variables are set.
 */
let bffInstance: ReturnType<typeof createBff> | undefined;
function bff(): ReturnType<typeof createBff> {
  const appOrigin = process.env['APP_ORIGIN'] ?? \`http://localhost:\${process.env['PORT'] || 4000}\`;
  bffInstance ??= createBff({
    issuer: process.env['OIDC_ISSUER'] ?? ${quote(setup.issuer)},
    clientId: process.env['OIDC_CLIENT_ID'] ?? ${quote(setup.clientId)},
    clientSecret: requiredEnv('OIDC_CLIENT_SECRET'),
    redirectUri: \`\${appOrigin}/auth/callback\`,
    postLogoutRedirectUri: \`\${appOrigin}/\`,
    scope: process.env['OIDC_SCOPE'] ?? 'openid profile offline_access',
    secrets: requiredEnv('SESSION_SECRETS').split(','), // [current, ...previous], each at least 32 characters${proxyOptions(setup)}
  }).catch((error: unknown) => {
    bffInstance = undefined;
    throw error;
  });
  return bffInstance;
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(\`\${name} is not set: see .env.example (ngx-fresh-token's backend-for-frontend needs it).\`);
  return value;
}

/** The request's session for a server render (REQUEST_CONTEXT): README, "Authenticated SSR". */
async function sessionContext(${req}: Parameters<typeof createWebRequestFromNodeRequest>[0]) {
  return (await bff()).renderContext(createWebRequestFromNodeRequest(${req}));
}

// The BFF's routes (/auth/*, /session/*${setup.proxied?.length ? ' and the proxied APIs' : ''}) first, before static files and any body parser: it reads
// the bodies it needs. handleNode answers from node:http's request to its response; false: not its path, nothing read.
${appName}.use((${req}, res, next) => {
  bff()
    .then((b) => b.handleNode(${req}, res))
    .then((done) => done || next())
    .catch(next);
});`;

  const edits: Array<Insertion | Replacement> = [
    { pos: anchorEnd, text: block },
    {
      start: render.getStart(),
      end: render.end,
      text: `sessionContext(${req}).then((context) => ${engineName}.handle(${req}, context))`,
    },
    ...importEdits(source, '@angular/ssr/node', ['createWebRequestFromNodeRequest']),
    ...importEdits(source, 'ngx-fresh-token/bff', ['createBff']),
  ];
  return applyEdits(text, edits);
}

/** createBff's proxy-mode options: no token for the browser, and each API forwarded with the user's token. */
function proxyOptions(setup: BffServerSetup): string {
  if (!setup.proxied?.length) return '';
  const apis = setup.proxied
    .map(
      (a) => `
      ${a.name}: {
        resource: process.env['${a.env}_RESOURCE'] ?? 'https://${a.name}.example.com', // its tokens' audience, its own
        proxy: { path: ${quote(a.path)}, target: process.env['${a.env}_URL'] ?? 'https://${a.name}.example.com', token: 'user' },
      },`,
    )
    .join('');
  return `
    // Proxy mode: the browser holds no token; the BFF calls these APIs for it (README, "Proxy mode").
    handOutTokens: false,
    apis: {${apis}
    },`;
}
