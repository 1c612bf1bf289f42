// The demo's DPoP-protected API (issue #27), under /dpop-api: what a resource server that takes only
// sender-constrained tokens does (RFC 9449 §4.3, §7), with jose. For every request, in this order:
//   1. `Authorization: DPoP <token>` — a token that verifies against the IdP's keys (issuer, audience)
//      and is bound (`cnf.jkt`); the same token as `Bearer` is refused (401 invalid_token);
//   2. exactly one `DPoP` proof: typ `dpop+jwt`, an asymmetric alg, a public `jwk`, signed by that key;
//   3. `htm` = the method, `htu` = the URL without query or fragment;
//   4. `iat` within ±60 s; a `jti` never seen before (replays refused);
//   5. `ath` = base64url(SHA-256(token)); the proof key's thumbprint = the token's `cnf.jkt`;
//   6. `nonce` = the API's current nonce, else 401 `WWW-Authenticate: DPoP error="use_dpop_nonce"` with
//      `DPoP-Nonce` (the nonce changes every 5 minutes, and on POST /dpop-api/rotate-nonce).
// Answers GET /dpop-api/hello with { ok, sub, jkt, htu, proof }; never echoes a token.
import { calculateJwkThumbprint, createLocalJWKSet, EmbeddedJWK, jwtVerify } from 'jose';
import { createHash, randomBytes } from 'node:crypto';
import { API_AUDIENCE } from './oidc.mjs';

const PROOF_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];
const NONCE_LIFETIME_MS = 5 * 60_000;

/** `publicOrigin`: the URL the browser uses (htu is checked against it, not against the Host header). */
export function createDpopApi({ issuer, publicJwks, publicOrigin }) {
  const jwks = createLocalJWKSet(publicJwks);
  const jtis = new Map(); // jti → until (ms)
  let nonce = { value: randomBytes(16).toString('base64url'), until: Date.now() + NONCE_LIFETIME_MS };
  const currentNonce = () => {
    if (nonce.until < Date.now()) nonce = { value: randomBytes(16).toString('base64url'), until: Date.now() + NONCE_LIFETIME_MS };
    return nonce.value;
  };
  const stats = { requests: 0, refused: {} };

  async function verify(method, url, headers) {
    const refuse = (reason, error = 'invalid_dpop_proof', extra = {}) => ({ status: 401, reason, error, headers: { 'WWW-Authenticate': `DPoP error="${error}", algs="${PROOF_ALGS.join(' ')}"`, ...extra } });
    const [scheme = '', token] = (headers['authorization'] ?? '').split(' ');
    if (!token) return refuse('no token', 'invalid_token');
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(token, jwks, { issuer, audience: API_AUDIENCE }));
    } catch (err) {
      return refuse(err.code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'token does not verify', 'invalid_token');
    }
    if (scheme.toLowerCase() !== 'dpop') return refuse(claims.cnf?.jkt ? 'a DPoP-bound token sent as Bearer' : 'not a DPoP request', 'invalid_token');
    if (!claims.cnf?.jkt) return refuse('token is not DPoP-bound', 'invalid_token');
    const proofs = headers['dpop'];
    if (typeof proofs !== 'string' || proofs.includes(',')) return refuse('not exactly one DPoP proof');
    let proof;
    try {
      proof = await jwtVerify(proofs, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: PROOF_ALGS });
    } catch {
      return refuse('proof does not verify');
    }
    const { payload, protectedHeader } = proof;
    if (protectedHeader.jwk?.d !== undefined) return refuse('proof carries a private key');
    if (payload.htm !== method) return refuse('htm is not this method');
    const htu = new URL(url);
    htu.search = '';
    htu.hash = '';
    if (payload.htu !== htu.href) return refuse('htu is not this URL');
    if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > 60) return refuse('iat outside ±60 s');
    if (typeof payload.jti !== 'string' || payload.jti.length < 8) return refuse('no jti');
    for (const [jti, until] of jtis) if (until < Date.now()) jtis.delete(jti);
    if (jtis.has(payload.jti)) return refuse('proof replayed (jti seen before)');
    if (payload.ath !== createHash('sha256').update(token).digest('base64url')) return refuse('ath is not this token');
    if ((await calculateJwkThumbprint(protectedHeader.jwk)) !== claims.cnf.jkt) return refuse('proof key is not the token’s key (cnf.jkt)', 'invalid_token');
    const expected = currentNonce();
    if (payload.nonce !== expected) return refuse('nonce needed', 'use_dpop_nonce', { 'DPoP-Nonce': expected });
    jtis.set(payload.jti, Date.now() + 130_000);
    return { status: 200, claims, jkt: claims.cnf.jkt, proof: { header: protectedHeader, payload } };
  }

  /** Express middleware for /dpop-api/*. */
  async function handle(req, res, next) {
    try {
      res.set('Cache-Control', 'no-store');
      if (req.method === 'POST' && req.path === '/rotate-nonce') {
        nonce = { value: randomBytes(16).toString('base64url'), until: Date.now() + NONCE_LIFETIME_MS };
        return res.status(204).end();
      }
      if (req.method === 'GET' && req.path === '/stats') return res.json(stats);
      stats.requests++;
      const url = `${publicOrigin}${req.originalUrl}`;
      const result = await verify(req.method, url, req.headers);
      if (result.status !== 200) {
        stats.refused[result.reason] = (stats.refused[result.reason] ?? 0) + 1;
        return res.status(result.status).set(result.headers).json({ error: result.error, reason: result.reason });
      }
      res.set('DPoP-Nonce', currentNonce());
      res.json({ ok: true, sub: result.claims.sub, jkt: result.jkt, htu: result.proof.payload.htu, at: new Date().toISOString() });
    } catch (err) {
      next(err);
    }
  }

  return { handle, stats };
}
