// The demo's third API (issue #26), reached ONLY through the BFF's proxy: a loopback server of its own
// (as an internal service would be) that verifies the access token against the IdP's JWKS, for its
// own audience. The browser calls GET /api/orders on the app's origin with X-CSRF: 1 and its session
// cookie; createBff() attaches the session's token for this API and forwards the call here. The
// token never reaches the browser: /session/token refuses it (403 NFT414) and the page holds none.
import { createServer } from 'node:http';
import { createLocalJWKSet, jwtVerify } from 'jose';

/** The audience (resource indicator) of the proxied API's tokens: no token /session/token hands out carries it. */
export const ORDERS_AUDIENCE = 'urn:ngx-fresh-token:demo-orders';
/** Where the browser calls it, on the app's origin (the BFF's proxy path). */
export const ORDERS_PATH = '/api/orders';

const ORDERS = [
  { id: 'A-1001', item: 'Refresh tokens, rotated', quantity: 1 },
  { id: 'A-1002', item: 'Access tokens, short-lived', quantity: 12 },
];

/**
 * Starts the orders API on 127.0.0.1 (a free port) and returns `{ target, apis, stats, close }`:
 * `apis` is the part of createBff()'s options that proxies it (`token: 'user'`, GET only).
 */
export async function startProxiedApi({ issuer, publicJwks }) {
  const jwks = createLocalJWKSet(publicJwks);
  const stats = { requests: 0, unauthorized: 0, withCookie: 0, withCsrf: 0 };
  const server = createServer(async (req, res) => {
    stats.requests++;
    // What the proxy must never forward: the browser's cookies and its X-CSRF header (counted, for the e2e test).
    if (req.headers.cookie) stats.withCookie++;
    if (req.headers['x-csrf']) stats.withCsrf++;
    const send = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const token = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(req.headers.authorization ?? '')?.[1];
    let claims;
    try {
      if (!token) throw new Error('missing');
      ({ payload: claims } = await jwtVerify(token, jwks, { issuer, audience: ORDERS_AUDIENCE }));
    } catch {
      stats.unauthorized++;
      res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
      return send(401, { error: 'invalid_token' });
    }
    if (req.method !== 'GET' || new URL(req.url, 'http://x').pathname !== '/orders') return send(404, { error: 'not_found' });
    // Who the token was for, never the token: the page shows that the API got one it never held.
    send(200, { orders: ORDERS, user: claims.sub, audience: claims.aud, servedAt: Date.now() });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const target = `http://127.0.0.1:${server.address().port}/orders`;
  return {
    target,
    stats,
    apis: { orders: { resource: ORDERS_AUDIENCE, proxy: { path: ORDERS_PATH, target, token: 'user', methods: ['GET'] } } },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
