// A loopback OAuth-ish server for the benchmarks (127.0.0.1, port 0): a token endpoint (any path
// ending in /token, so keycloak-js's /realms/<realm>/protocol/openid-connect/token works too)
// that answers the refresh_token grant with a new unsigned JWT after `tokenLatencyMs`, and an API
// (/api/...) that answers 200 for a current token and 401 for a missing, expired or revoked one.
// It counts everything, so a storm can be judged by what actually reached the server.
import { createServer } from 'node:http';
import { once } from 'node:events';

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsigned JWT (alg none): enough for the libraries that read `exp`/`iat` from the token. */
export function makeJwt({ lifetimeSec = 3600, now = Date.now(), sub = 'bench-user', n = 0 } = {}) {
  const iat = Math.floor(now / 1000);
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub, sid: 'bench-session', iat, exp: iat + lifetimeSec, jti: `t${n}` })}.`;
}

export function jwtExp(token) {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp;
  } catch {
    return undefined;
  }
}

export async function startTokenServer({ tokenLatencyMs = 100 } = {}) {
  const stats = { tokenCalls: 0, api: { ok: 0, unauthorized: 0, noToken: 0, expiredToken: 0, revokedToken: 0 } };
  const revoked = new Set();
  let issued = 0;
  let lifetimeSec = 3600;

  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'POST' && url.pathname.endsWith('/token')) {
      stats.tokenCalls++;
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          const n = ++issued;
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          res.end(
            JSON.stringify({
              access_token: makeJwt({ lifetimeSec, n }),
              token_type: 'Bearer',
              expires_in: lifetimeSec,
              refresh_token: makeJwt({ lifetimeSec: 1800, n, sub: 'refresh' }),
              scope: 'openid offline_access api',
            }),
          );
        }, tokenLatencyMs),
      );
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      req.resume();
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      let reason = null;
      if (!token) reason = 'noToken';
      else if (revoked.has(token)) reason = 'revokedToken';
      else if ((jwtExp(token) ?? 0) * 1000 <= Date.now()) reason = 'expiredToken';
      if (reason) {
        stats.api.unauthorized++;
        stats.api[reason]++;
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' });
        res.end('{"error":"invalid_token"}');
      } else {
        stats.api.ok++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }
      return;
    }
    if (url.pathname === '/.well-known/openid-configuration') {
      req.resume();
      const origin = `http://${req.headers.host}`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          issuer: origin,
          token_endpoint: `${origin}/token`,
          authorization_endpoint: `${origin}/authorize`,
          jwks_uri: `${origin}/jwks`,
          grant_types_supported: ['authorization_code', 'refresh_token'],
        }),
      );
      return;
    }
    if (url.pathname === '/jwks') {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
      return;
    }
    req.resume();
    res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    api: `${origin}/api`,
    tokenUrl: `${origin}/token`,
    stats,
    /** Lifetime of the tokens issued from now on. */
    setLifetime(sec) {
      lifetimeSec = sec;
    },
    revoke(token) {
      revoked.add(token);
    },
    reset() {
      stats.tokenCalls = 0;
      for (const k of Object.keys(stats.api)) stats.api[k] = 0;
    },
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
