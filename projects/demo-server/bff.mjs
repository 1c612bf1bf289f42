// Backend-for-frontend: the browser never sees a refresh token or the client secret. Login runs
// the authorization-code flow against oidc-provider server-side and keeps the session (refresh
// token) here, behind an http-only cookie. `/session/token` hands the browser short-lived access
// tokens, minting a new one with the rotating refresh token when the browser forces a refresh
// (`X-Force-Refresh`: its token entered the 30 s buffer or got a 401), or when the cached one is
// close to expiry or was revoked. The login's own token answers the first request, forced or not.
import { randomBytes } from 'node:crypto';
import { createSessionTokenHandler } from 'ngx-fresh-token/oauth/server';
import { API_AUDIENCE, BFF_CLIENT_ID, SCOPE } from './oidc.mjs';

export const SESSION_COOKIE = 'nft_demo_sid';
const USERNAME = /^[A-Za-z0-9._-]{1,32}$/;
/** A cached access token with less than this left is not handed out again: the browser refreshes at 30 s left. */
const REUSE_MIN_LEFT_MS = 35_000;

function parseCookies(header = '') {
  return Object.fromEntries(
    header
      .split(';')
      .map((part) => part.trim().split('='))
      .filter(([name, value]) => name && value !== undefined)
      .map(([name, ...rest]) => [name, decodeURIComponent(rest.join('='))]),
  );
}

function decodeJwtPayload(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

export function createBff({ internalOrigin, issuer, redirectUri, clientSecret, stats, revokedJtis, generations }) {
  const sessions = new Map();
  let generation = 0;

  async function tokenRequest(params) {
    const res = await fetch(`${internalOrigin}/oidc/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: BFF_CLIENT_ID, client_secret: clientSecret, ...params }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok || typeof body.access_token !== 'string') {
      const err = new Error(`token endpoint answered ${res.status} ${typeof body.error === 'string' ? body.error : ''}`.trim());
      err.status = res.status;
      err.oauthError = body.error;
      throw err;
    }
    return body;
  }

  function remember(session, body) {
    const claims = decodeJwtPayload(body.access_token);
    generations.set(claims.jti, ++generation);
    session.accessToken = body.access_token;
    session.expiresAt = claims.exp * 1000;
    session.jti = claims.jti;
    if (body.refresh_token) session.refreshToken = body.refresh_token; // rotation: store the new one first
  }

  /** Runs the authorization-code flow headlessly (the demo has no passwords). */
  async function codeFlow(username) {
    const jar = new Map();
    const state = randomBytes(8).toString('hex');
    let url = new URL(`${internalOrigin}/oidc/auth`);
    url.search = new URLSearchParams({
      client_id: BFF_CLIENT_ID,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: SCOPE,
      prompt: 'consent',
      login_hint: username,
      resource: API_AUDIENCE,
      state,
    }).toString();
    for (let hop = 0; hop < 10; hop++) {
      const res = await fetch(url, {
        redirect: 'manual',
        headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
      });
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const [name, ...rest] = pair.split('=');
        jar.set(name.trim(), rest.join('='));
      }
      const location = res.headers.get('location');
      if (!location) throw new Error(`login flow stopped with HTTP ${res.status}`);
      const next = new URL(location, url);
      if (next.href.startsWith(redirectUri)) {
        if (next.searchParams.get('state') !== state) throw new Error('login flow returned a wrong state');
        const code = next.searchParams.get('code');
        if (!code) throw new Error(`login flow failed: ${next.searchParams.get('error') ?? 'no code'}`);
        return tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: redirectUri });
      }
      // The provider redirects to its issuer origin; stay on the internal one.
      url = new URL(next.pathname + next.search, internalOrigin);
    }
    throw new Error('login flow redirected too often');
  }

  function sessionOf(req) {
    const sid = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    return sid ? sessions.get(sid) : undefined;
  }

  async function login(req, res) {
    const username = req.body?.username;
    if (typeof username !== 'string' || !USERNAME.test(username)) {
      return res.status(400).json({ error: 'invalid_request', message: 'username: 1-32 letters, digits, ".", "_" or "-"' });
    }
    const body = await codeFlow(username);
    const sid = randomBytes(24).toString('base64url');

    const session = {
      sid,
      user: username,
      refreshToken: null,
      accessToken: null,
      expiresAt: 0,
      jti: null,
      inFlight: null,
      /** Whether the browser has received `accessToken`; the login's own token has not. */
      handedOut: false,
      /** This session's counters, shown on the dashboard; a new login starts at zero. */
      stats: { logins: 1, refreshes: 0, requests: 0, unauthorized: 0, revocations: 0 },
    };
    remember(session, body);
    if (!session.refreshToken) throw new Error('the provider issued no refresh token');
    sessions.set(sid, session);
    stats.logins++;
    res.cookie(SESSION_COOKIE, sid, { httpOnly: true, sameSite: 'strict', path: '/' });
    res.status(204).end();
  }

  async function refreshSession(session) {
    session.inFlight ??= tokenRequest({ grant_type: 'refresh_token', refresh_token: session.refreshToken })
      .then((body) => {
        stats.refreshes++;
        session.stats.refreshes++;
        remember(session, body);
      })
      .finally(() => {
        session.inFlight = null;
      });
    return session.inFlight;
  }

  /**
   * GET or POST /session/token → { accessToken, expiresAt, expiresIn } or 401 when signed out, built
   * with the oauth entry's framework-agnostic handler. A new access token is minted with the
   * rotating refresh token when the cached one is close to expiry or was revoked.
   */
  const sessionTokenHandler = createSessionTokenHandler({
    getSession: (request) => {
      const sid = parseCookies(request.headers.get('cookie') ?? '')[SESSION_COOKIE];
      return (sid && sessions.get(sid)) || null;
    },
    issueAccessToken: async (session, _request, { forceRefresh }) => {
      const current = session.accessToken && session.expiresAt - Date.now() > REUSE_MIN_LEFT_MS && !revokedJtis.has(session.jti);
      // A forced refresh asks for a token other than the one the browser holds. The token minted
      // at login was never handed out, so it answers the first request (the login page's
      // refresh()) without a refresh grant: loading the first token is not a refresh.
      const usable = current && (!forceRefresh || !session.handedOut);
      if (!usable) {
        try {
          await refreshSession(session);
        } catch (err) {
          if (err.status === 400 || err.status === 401) {
            sessions.delete(session.sid); // the refresh token is dead: the session is over
            return null;
          }
          throw err;
        }
      }
      session.handedOut = true;
      return { accessToken: session.accessToken, expiresAt: session.expiresAt };
    },
  });

  /** Express adapter: Node request → Web Request → handler → Node response. */
  async function sessionToken(req, res) {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers.set(name, value);
    }
    const response = await sessionTokenHandler(new Request(new URL(req.originalUrl, 'http://localhost'), { method: req.method, headers }));
    res.status(response.status);
    response.headers.forEach((value, name) => res.set(name, value));
    res.send(await response.text());
  }

  async function logout(req, res) {
    const sid = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    const session = sid && sessions.get(sid);
    if (session) {
      sessions.delete(sid);
      await fetch(`${internalOrigin}/oidc/token/revocation`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: BFF_CLIENT_ID, client_secret: clientSecret, token: session.refreshToken }),
      }).catch(() => undefined);
    }
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.status(204).end();
  }

  return { login, logout, sessionToken, sessionOf, sessions, issuer };
}
