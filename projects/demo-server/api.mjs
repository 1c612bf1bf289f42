// The protected resource API: verifies access tokens against the provider's JWKS with jose,
// answers 401 when a token is expired, forged or revoked, and counts what it saw (per token
// generation, never the token itself; in total and per session) for the demo UI and the e2e tests.
import { createLocalJWKSet, jwtVerify } from 'jose';
import { API_AUDIENCE } from './oidc.mjs';

/** `sessionStatsOf(req)`: the caller's per-session counters (a promise), or `null` without a session. */
export function createApi({ issuer, publicJwks, stats, sessionStatsOf = async () => null, revokedJtis, generations }) {
  const jwks = createLocalJWKSet(publicJwks);

  async function verify(req) {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match) return { error: 'missing_token' };
    try {
      const { payload } = await jwtVerify(match[1], jwks, { issuer, audience: API_AUDIENCE });
      if (revokedJtis.has(payload.jti)) return { error: 'revoked' };
      return { claims: payload, generation: generations.get(payload.jti) ?? 0 };
    } catch (err) {
      return { error: err.code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid_token' };
    }
  }

  /** Express middleware: 401 unless the bearer token verifies; puts claims on res.locals. */
  async function requireToken(req, res, next) {
    const result = await verify(req);
    let session;
    try {
      session = await sessionStatsOf(req);
    } catch (err) {
      return next(err);
    }
    stats.requests++;
    if (session) session.requests++;
    if (result.error) {
      stats.unauthorized++;
      if (session) session.unauthorized++;
      res.set('WWW-Authenticate', `Bearer error="invalid_token", error_description="${result.error}"`);
      return res.status(401).json({ error: result.error });
    }
    stats.requestsByGeneration[result.generation] = (stats.requestsByGeneration[result.generation] ?? 0) + 1;
    res.locals.claims = result.claims;
    res.locals.generation = result.generation;
    next();
  }

  function data(_req, res) {
    res.json({ ok: true, user: res.locals.claims.sub, generation: res.locals.generation, servedAt: Date.now() });
  }

  /** Revokes the access token the request carries: the next call with it gets a 401. */
  async function revoke(req, res, next) {
    try {
      revokedJtis.add(res.locals.claims.jti);
      stats.revocations++;
      const session = await sessionStatsOf(req);
      if (session) session.revocations++;
      res.json({ revokedGeneration: res.locals.generation });
    } catch (err) {
      next(err);
    }
  }

  return { requireToken, data, revoke };
}
