// Shared pieces of the oauth integration tests: an API server that accepts only valid JWTs from
// the oidc-provider (verified against its JWKS), console capture and a deep "contains" check for
// secrets.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createServer } from 'node:http';
import { inspect } from 'node:util';

/** Starts an API on 127.0.0.1 that answers 200 only for a valid, unexpired access token of `issuer`. */
export async function startJwtApi({ issuer, audience }) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const seen = [];
  const server = createServer(async (req, res) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    let ok = false;
    let reason = 'no token';
    if (token) {
      try {
        await jwtVerify(token, jwks, { issuer, audience, clockTolerance: 0 });
        ok = true;
      } catch (err) {
        reason = err.code ?? 'invalid';
      }
    }
    seen.push({ token: token ?? null, ok, reason, atMs: Date.now() });
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** Records every console line (all methods) until `restore()`. */
export function captureConsole() {
  const lines = [];
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'];
  const originals = Object.fromEntries(methods.map((m) => [m, console[m]]));
  for (const m of methods) {
    console[m] = (...args) => {
      lines.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 8, showHidden: true }))).join(' '));
      originals[m].apply(console, args);
    };
  }
  return { lines, restore: () => Object.assign(console, originals) };
}

/** Every way an error can be rendered: JSON, String, message, stack, inspect, and each own property value. */
export function renderings(err) {
  const out = [String(err), err?.message ?? '', err?.stack ?? '', JSON.stringify(err) ?? '', inspect(err, { depth: 8, showHidden: true })];
  if (err && typeof err === 'object') {
    for (const key of Reflect.ownKeys(err)) out.push(inspect(err[key], { depth: 8, showHidden: true }));
    out.push(JSON.stringify(Object.values(err)) ?? '');
  }
  return out;
}

/** The forms a client secret could leak in: plain, URL-encoded and inside a Basic header. */
export function secretForms(clientId, secret) {
  return [secret, encodeURIComponent(secret), Buffer.from(`${clientId}:${secret}`).toString('base64'), Buffer.from(secret).toString('base64')];
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
