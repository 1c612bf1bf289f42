// A real DPoP-protected resource server for the tests (RFC 9449 §4.3, §7): a node:http server on 127.0.0.1
// that verifies every request with jose — the access token (a JWT of the IdP, by its JWKS: issuer,
// audience) and its DPoP proof, in this order:
//   1. `Authorization: DPoP <token>` (a bound token under `Bearer` is refused: 401 invalid_token);
//   2. exactly one `DPoP` header, a JWT with typ `dpop+jwt`, an asymmetric alg and a public `jwk` in its
//      header, signed by that key (jose's EmbeddedJWK);
//   3. `htm` = the request's method, `htu` = its URI without query or fragment;
//   4. `iat` within ±60 s, `jti` never seen before (replays refused);
//   5. `ath` = base64url(SHA-256(token));
//   6. the token's `cnf.jkt` = the proof key's JWK thumbprint;
//   7. with `requireNonce`: `nonce` = the server's current one, else 401 `WWW-Authenticate: DPoP
//      error="use_dpop_nonce"` with `DPoP-Nonce`.
// Every request is recorded ({ method, path, status, reason, token, proof, header, payload }), so a test can
// replay what an attacker would copy out of a log. WebSocket handshakes (`ws`) are verified the same way
// (htm GET, htu the handshake's http URI). Paths: /upload reads the body and answers its size; anything
// else answers { ok, method, path, sub, jkt, bodyBytes }.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import { calculateJwkThumbprint, createRemoteJWKSet, decodeProtectedHeader, decodeJwt, EmbeddedJWK, jwtVerify } from 'jose';
import { WebSocketServer } from 'ws';

const PROOF_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'PS256'];

export async function startDpopApi({ issuer, audience }) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const events = new EventEmitter();
  const seen = [];
  const jtis = new Map(); // jti → expiry (ms)
  const state = { requireNonce: false, nonce: randomBytes(16).toString('base64url') };

  /** Verifies one request; resolves with { ok: true, claims, jkt } or { ok: false, status, reason, headers }. */
  async function verify(method, url, headers) {
    const refuse = (reason, error = 'invalid_dpop_proof', extra = {}) => ({
      ok: false,
      status: 401,
      reason,
      headers: { 'www-authenticate': `DPoP error="${error}", algs="${PROOF_ALGS.join(' ')}"`, ...extra },
    });
    const authorization = headers['authorization'] ?? '';
    const [scheme, token] = authorization.split(' ');
    if (!token) return refuse('no token', 'invalid_token');
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(token, jwks, { issuer, audience }));
    } catch {
      return refuse('token does not verify', 'invalid_token');
    }
    const boundJkt = claims.cnf?.jkt;
    if (scheme.toLowerCase() !== 'dpop') return refuse(boundJkt ? 'bound token sent as bearer' : 'not a DPoP request', 'invalid_token');
    if (!boundJkt) return refuse('token is not DPoP-bound', 'invalid_token');
    const proofs = headers['dpop'];
    if (typeof proofs !== 'string' || proofs.includes(',')) return refuse('not exactly one DPoP header');
    let proof;
    try {
      proof = await jwtVerify(proofs, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: PROOF_ALGS });
    } catch {
      return refuse('proof does not verify');
    }
    const { payload, protectedHeader } = proof;
    if (protectedHeader.jwk?.d !== undefined) return refuse('proof carries a private key');
    if (payload.htm !== method) return refuse('htm mismatch');
    const htu = new URL(url);
    htu.search = '';
    htu.hash = '';
    let proofHtu;
    try {
      proofHtu = new URL(payload.htu);
      proofHtu.search = '';
      proofHtu.hash = '';
    } catch {
      return refuse('htu not a URL');
    }
    if (proofHtu.href !== htu.href) return refuse('htu mismatch');
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > 60) return refuse('iat outside the window');
    if (typeof payload.jti !== 'string' || payload.jti.length < 8) return refuse('no jti');
    for (const [jti, until] of jtis) if (until < Date.now()) jtis.delete(jti);
    if (jtis.has(payload.jti)) return refuse('jti replayed');
    const ath = createHash('sha256').update(token).digest('base64url');
    if (payload.ath !== ath) return refuse('ath mismatch');
    const jkt = await calculateJwkThumbprint(protectedHeader.jwk);
    if (jkt !== boundJkt) return refuse('key is not the token’s (cnf.jkt)', 'invalid_token');
    if (state.requireNonce && payload.nonce !== state.nonce) return refuse('nonce needed', 'use_dpop_nonce', { 'dpop-nonce': state.nonce });
    jtis.set(payload.jti, Date.now() + 120_000);
    return { ok: true, claims, jkt, proof: { header: protectedHeader, payload } };
  }

  const record = (entry) => {
    seen.push(entry);
    events.emit('request', entry);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url, `http://${req.headers.host}`);
    let bodyBytes = 0;
    req.on('data', (chunk) => (bodyBytes += chunk.length));
    req.on('end', async () => {
      const result = await verify(req.method, url.href, req.headers);
      const entry = {
        method: req.method,
        path: url.pathname,
        url: url.href,
        status: result.ok ? 200 : result.status,
        reason: result.ok ? null : result.reason,
        authorization: req.headers['authorization'],
        dpop: req.headers['dpop'],
        bodyBytes,
      };
      record(entry);
      if (!result.ok) {
        res.writeHead(result.status, { 'content-type': 'application/json', ...result.headers });
        return res.end(JSON.stringify({ error: result.headers['www-authenticate'].match(/error="([^"]+)"/)[1], reason: result.reason }));
      }
      res.writeHead(200, { 'content-type': 'application/json', ...(state.requireNonce ? { 'dpop-nonce': state.nonce } : {}) });
      res.end(JSON.stringify({ ok: true, method: req.method, path: url.pathname, sub: result.claims.sub, jkt: result.jkt, bodyBytes }));
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', async (req, socket, head) => {
    const url = new URL(req.url, `http://${req.headers.host}`);
    const result = await verify('GET', url.href, req.headers);
    record({ method: 'GET', path: url.pathname, url: url.href, websocket: true, status: result.ok ? 101 : result.status, reason: result.ok ? null : result.reason, authorization: req.headers['authorization'], dpop: req.headers['dpop'] });
    if (!result.ok) {
      const lines = [`HTTP/1.1 ${result.status} Unauthorized`, 'Connection: close', 'Content-Length: 0', ...Object.entries(result.headers).map(([k, v]) => `${k}: ${v}`)];
      return socket.end(`${lines.join('\r\n')}\r\n\r\n`);
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(JSON.stringify({ hello: result.claims.sub, jkt: result.jkt }));
      ws.on('message', (data) => ws.send(`echo:${data}`));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    seen,
    events,
    /** `requireNonce = true`: every proof must carry the current nonce. */
    state,
    /** A new nonce: proofs with the old one are answered use_dpop_nonce. */
    rotateNonce: () => (state.nonce = randomBytes(16).toString('base64url')),
    /** Sends a request as given (an attacker replaying what it copied); resolves with { status, body }. */
    async send(path, { method = 'GET', headers = {}, body } = {}) {
      const res = await fetch(`${origin}${path}`, { method, headers, body });
      return { status: res.status, body: await res.json().catch(() => null), headers: res.headers };
    },
    /** The decoded proof of a recorded request. */
    proofOf: (entry) => ({ header: decodeProtectedHeader(entry.dpop), payload: decodeJwt(entry.dpop) }),
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
