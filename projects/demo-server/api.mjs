// The protected resource APIs: each verifies access tokens against the provider's JWKS with jose —
// issuer, signature, expiry and its own audience — answers 401 when a token is expired, forged,
// revoked or meant for another API, and counts what it saw (per token generation, never the token
// itself; in total and per session; and the audience of every token it was handed) for the demo UI
// and the e2e tests.
//   - the demo's own API (/api/data, /api/profile, /api/revoke): audience API_AUDIENCE, the default token;
//   - the reports API (/reports-api/*, #25), called from the browser on another origin (127.0.0.1
//     instead of localhost, same port: CORS): audience REPORTS_AUDIENCE, the token of withApiToken('reports').
import { createLocalJWKSet, jwtVerify } from 'jose';
import { API_AUDIENCE, REPORTS_AUDIENCE } from './oidc.mjs';

/** The audiences of a JWT, unverified (only to count which API's token a request carried); `['none']` without a token. */
function audiencesOf(token) {
  if (!token) return ['none'];
  try {
    const { aud } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
    return [aud ?? 'unknown'].flat().map(String);
  } catch {
    return ['malformed'];
  }
}

const bearerOf = (req) => /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(req.headers.authorization ?? '')?.[1] ?? null;

/**
 * `sessionStatsOf(req)`: the caller's per-session counters (a promise), or `null` without a session.
 * `apiGenerations`: jti → generation of the reports tokens. `appOrigins`: the origins the
 * reports API answers CORS requests from.
 */
export function createApi({ issuer, publicJwks, stats, sessionStatsOf = async () => null, revokedJtis, generations, apiGenerations = { reports: new Map() }, appOrigins = [] }) {
  const jwks = createLocalJWKSet(publicJwks);

  /** Verifies the bearer token of `req` for `audience`, counting its audience under `api`. */
  async function verifyFor(req, audience, api, numbers) {
    const token = bearerOf(req);
    for (const aud of audiencesOf(token)) stats.audiences[api][aud] = (stats.audiences[api][aud] ?? 0) + 1;
    if (!token) return { error: 'missing_token' };
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer, audience });
      if (revokedJtis.has(payload.jti)) return { error: 'revoked' };
      return { claims: payload, generation: numbers.get(payload.jti) ?? 0 };
    } catch (err) {
      return { error: err.code === 'ERR_JWT_EXPIRED' ? 'expired' : err.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && err.claim === 'aud' ? 'wrong_audience' : 'invalid_token' };
    }
  }

  const verify = (req) => verifyFor(req, API_AUDIENCE, 'api', generations);

  const refuse = (res, error) => {
    res.set('WWW-Authenticate', `Bearer error="invalid_token", error_description="${error}"`);
    return res.status(401).json({ error });
  };

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
      return refuse(res, result.error);
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

  /**
   * `GET /api/profile`: who the token belongs to. The dashboard calls it during its server render (and
   * hands the body to the browser); counted apart from the request counters, so a render changes none.
   */
  async function profile(req, res) {
    const result = await verify(req);
    stats.profileRequests++;
    if (req.headers.authorization) stats.profileRequestsWithToken++;
    res.set('Cache-Control', 'no-store');
    if (result.error) return refuse(res, result.error);
    const { sub, scope } = result.claims;
    res.json({ sub, scope, generation: result.generation, servedAt: Date.now() });
  }

  /**
   * The reports API (`/reports-api/*`): another origin for the browser (http://127.0.0.1:PORT while the
   * app is http://localhost:PORT), so CORS with the Authorization header; it takes reports tokens only.
   */
  async function reports(req, res) {
    const origin = req.headers.origin;
    if (origin && appOrigins.includes(origin)) {
      res.set({ 'Access-Control-Allow-Origin': origin, Vary: 'Origin', 'Access-Control-Allow-Headers': 'Authorization', 'Access-Control-Allow-Methods': 'GET', 'Access-Control-Max-Age': '600' });
    }
    if (req.method === 'OPTIONS') return res.status(204).end();
    res.set('Cache-Control', 'no-store');
    const result = await verifyFor(req, REPORTS_AUDIENCE, 'reports', apiGenerations.reports);
    stats.reportsRequests++;
    if (result.error) {
      stats.reportsUnauthorized++;
      return refuse(res, result.error);
    }
    const { sub, aud, scope } = result.claims;
    res.json({ ok: true, api: 'reports', user: sub, aud, scope, generation: result.generation, servedAt: Date.now() });
  }

  return { requireToken, data, revoke, profile, reports };
}
