// Sign-out (POST /auth/logout): the session is deleted first, then its refresh token is revoked
// once (RFC 7009). RP-initiated logout without the ID token ever reaching JavaScript: the answer's
// `endSessionUrl` is the BFF's own GET /auth/end-session?ref=<one-time reference>, which 302s to the
// IdP's end-session endpoint with `id_token_hint` added server-side.
// Back-channel logout (POST /auth/backchannel-logout, OpenID Connect Back-Channel Logout 1.0): the
// IdP posts a signed logout token; verified, it ends the sessions of its `sid`, or all of its `sub`,
// that existed when it was issued. A token already carried out (its `jti` marked done) is refused before
// anything is deleted; the sessions are deleted first and the token marked done after, so a delivery
// that failed half-way can be retried.
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { sha256 } from './crypto';
import { bffError, BffErrorCode, FreshTokenError } from './errors';
import { errorResponse, json, readBodyLimited, SECURITY_HEADERS, withTimeout } from './http';
import { client, IDP_RETRY_AFTER_SECONDS, type OidcConfiguration } from './oidc';
import type { ResolvedBffOptions } from './options';
import type { TokenIssuer } from './refresh';
import type { LoadedSession, Sessions } from './sessions';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** A logout token older than this (by its `iat`) is refused (plus {@link LOGOUT_TOKEN_CLOCK_TOLERANCE_SECONDS}). */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 300;
/** Clock tolerance between the IdP and this server for a logout token's `iat` and `exp`. */
export const LOGOUT_TOKEN_CLOCK_TOLERANCE_SECONDS = 60;
/** Largest back-channel logout body read (a logout token is a few hundred bytes to a few KB). */
export const MAX_BACKCHANNEL_BODY_BYTES = 16_384;
/** How long the one-time end-session reference lives. */
export const END_SESSION_REFERENCE_MS = 2 * 60_000;

/** The sign-out routes of one BFF. */
export function createLogoutRoutes(options: ResolvedBffOptions, sessions: Sessions, config: OidcConfiguration, issuer: TokenIssuer, onEnded: (key: string) => void = () => undefined) {
  const metadata = config.serverMetadata();
  const jwks = metadata.jwks_uri ? createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: options.tokenRequestTimeoutMs }) : null;

  /** The IdP's end-session URL (client_id, post-logout redirect, and the hint when there is one). */
  function endSessionUrl(idToken?: string): string {
    const params: Record<string, string> = { client_id: options.clientId };
    if (idToken) params['id_token_hint'] = idToken;
    if (options.postLogoutRedirectUri) params['post_logout_redirect_uri'] = options.postLogoutRedirectUri.href;
    return client.buildEndSessionUrl(config, params).href;
  }

  async function logout(request: Request): Promise<Response> {
    let session: LoadedSession | null = null;
    try {
      session = (await sessions.load(request, false)).session;
    } catch (err) {
      if (!(err instanceof FreshTokenError && err.code === BffErrorCode.SessionKeyUnknown)) throw err;
      // Sealed under a secret this instance lacks yet: the user asked to sign out, so the record goes
      // unread (its refresh token cannot be revoked from here; it dies with its grant at the IdP).
      const key = await sessions.keyOfRequest(request);
      if (key) {
        await sessions.remove(key);
        onEnded(key);
      }
      options.logger.warn('ngx-fresh-token/bff: a session sealed under a secret this instance does not hold was signed out without revoking its refresh token.');
      return json(200, { endSessionUrl: null }, { cookies: [sessions.clearCookie()] });
    }
    let url: string | null = null;
    if (session) {
      const refreshToken = issuer.refreshTokenOf(session);
      await sessions.remove(session.key);
      issuer.forget(session.key);
      onEnded(session.key);
      options.onEvent({ type: 'logout', sessionKey: session.key, sub: session.data.sub });
      if (refreshToken) {
        // Exactly one revocation; a failure (IdP down) is logged without the token and never keeps the session.
        await withTimeout(
          client.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' }),
          options.tokenRequestTimeoutMs,
          () => new Error('timeout'),
        ).catch(() => options.logger.warn('ngx-fresh-token/bff: revoking the refresh token at sign-out failed; the session was ended anyway.'));
      }
      if (metadata.end_session_endpoint) {
        // The ID token stays on the server: the browser gets a one-time reference to it. A store that
        // fails now (the session is already gone) still leaves the browser a way to the IdP, without the hint.
        const ref = session.data.idToken ? await sessions.stash({ idToken: session.data.idToken }, END_SESSION_REFERENCE_MS).catch(() => null) : null;
        url = ref ? new URL(`${options.routes.endSession}?ref=${ref}`, options.redirectUri.origin).href : endSessionUrl();
      }
    }
    return json(200, { endSessionUrl: url }, { cookies: [sessions.clearCookie()] });
  }

  /** GET /auth/end-session?ref=: 302 to the IdP's end-session endpoint, the hint added here (once). */
  async function endSession(request: Request): Promise<Response> {
    if (!metadata.end_session_endpoint) return json(404, { error: 'not_found' });
    const ref = new URL(request.url).searchParams.get('ref') ?? '';
    const stashed = ref ? await sessions.take(ref) : null;
    const idToken = typeof stashed === 'object' && stashed !== null ? (stashed as { idToken?: unknown }).idToken : undefined;
    // An unknown, expired or used reference still signs out at the IdP, which then asks the user to confirm.
    const location = endSessionUrl(typeof idToken === 'string' ? idToken : undefined);
    return new Response(null, {
      status: 302,
      headers: { ...SECURITY_HEADERS, Location: location, 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' },
    });
  }

  const rejected = (why: string, status = 400) => bffError(BffErrorCode.LogoutTokenRejected, `the back-channel logout token was rejected: ${why}.`, { status });

  async function verifyLogoutToken(token: string): Promise<JWTPayload & { iat: number; exp: number; jti: string }> {
    if (!jwks) throw rejected('the issuer publishes no jwks_uri');
    let payload: JWTPayload;
    let typ: string | undefined;
    try {
      const verified = await jwtVerify(token, jwks, {
        issuer: metadata.issuer,
        audience: options.clientId,
        // OpenID Connect Back-Channel Logout 1.0 §2.4: iss, aud, iat, exp, jti and events are required.
        requiredClaims: ['iat', 'exp', 'jti'],
        maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
        clockTolerance: LOGOUT_TOKEN_CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(options.now()),
      });
      payload = verified.payload;
      typ = verified.protectedHeader.typ;
    } catch (err) {
      // The issuer's keys could not be loaded (JWKS down, slow or garbled): no verdict on the token. 503, so
      // the IdP may deliver it again; the sessions it names are not given up on.
      const code = (err as { code?: unknown } | null)?.code;
      if (typeof code !== 'string' || !code.startsWith('ERR_') || code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JWKS_INVALID' || code === 'ERR_JOSE_GENERIC') {
        throw bffError(BffErrorCode.IdpUnavailable, "the issuer's signing keys (jwks_uri) could not be loaded to verify the back-channel logout token; try again shortly.", {
          status: 503,
          retryAfterSeconds: IDP_RETRY_AFTER_SECONDS,
        });
      }
      throw rejected('signature, issuer, audience, lifetime (exp, iat no older than 5 minutes) or a required claim did not verify');
    }
    if (typ !== undefined && typ.toLowerCase() !== 'logout+jwt' && typ.toLowerCase() !== 'application/logout+jwt') throw rejected('wrong typ');
    const events = payload['events'] as Record<string, unknown> | undefined;
    if (!events || typeof events !== 'object' || typeof events[BACKCHANNEL_LOGOUT_EVENT] !== 'object' || events[BACKCHANNEL_LOGOUT_EVENT] === null) {
      throw rejected('no back-channel logout event');
    }
    if ('nonce' in payload) throw rejected('a logout token must not carry a nonce');
    if (typeof payload.sub !== 'string' && typeof payload['sid'] !== 'string') throw rejected('neither sub nor sid');
    if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) throw rejected('a bad jti');
    return payload as JWTPayload & { iat: number; exp: number; jti: string };
  }

  async function backchannelLogout(request: Request): Promise<Response> {
    try {
      const type = request.headers.get('content-type') ?? '';
      if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) throw rejected('the body must be application/x-www-form-urlencoded');
      const body = await readBodyLimited(request, MAX_BACKCHANNEL_BODY_BYTES);
      if (body === null) throw rejected('the body is too large', 413);
      const token = new URLSearchParams(body).get('logout_token');
      if (!token) throw rejected('no logout_token');
      const payload = await verifyLogoutToken(token);
      // A token already carried out is refused before anything is deleted (a replay ends nothing).
      const doneKey = `logout-done:${await sha256(`${metadata.issuer}\n${payload.jti}`)}`;
      if (await sessions.call((s) => s.get(doneKey))) throw rejected('this logout token was already used');
      const sid = typeof payload['sid'] === 'string' ? payload['sid'] : undefined;
      const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
      const entries = sid !== undefined ? await sessions.indexEntries('sid', sid) : await sessions.indexEntries('sub', sub!);
      // Each session found, and whether the token names it outright (its sid, or a token with sub only).
      const keys = new Map<string, boolean>();
      for (const entry of entries) for (const key of await sessions.call((s) => s.findByIndex(entry))) keys.set(key, true);
      // A token with sid and sub also ends that subject's sessions whose login named no sid (an IdP that puts sid in
      // logout tokens but not in ID tokens): they cannot be found by the sid, and nothing says they are another one.
      if (sid !== undefined && sub !== undefined) {
        for (const entry of await sessions.indexEntries('sub', sub)) for (const key of await sessions.call((s) => s.findByIndex(entry))) if (!keys.has(key)) keys.set(key, false);
      }
      // Only sessions that existed when the IdP issued the token: a replay ends nothing created since.
      const issuedBefore = (payload.iat + LOGOUT_TOKEN_CLOCK_TOLERANCE_SECONDS) * 1000;
      let ended = 0;
      for (const [key, named] of keys) {
        let session: LoadedSession | null = null;
        try {
          session = await sessions.loadKey(key, false);
        } catch (err) {
          // Sealed under a newer secret: its age cannot be read here; the IdP ordered the logout, so it goes.
          if (!(err instanceof FreshTokenError && err.code === BffErrorCode.SessionKeyUnknown)) throw err;
        }
        // Found by its subject only: it goes only if it is readable and recorded no sid (one with a sid is another login).
        if (!named && (!session || session.data.sid !== undefined)) continue;
        if (session && session.data.createdAt > issuedBefore) continue;
        await sessions.remove(key);
        issuer.forget(key);
        onEnded(key);
        ended++;
        options.onEvent({ type: 'backchannel-logout', sessionKey: key, sub: typeof payload.sub === 'string' ? payload.sub : session?.data.sub });
      }
      // Marked done after the deletes: a delivery whose delete failed (503) ends the sessions when retried.
      // It lives as long as the token could verify (its exp, at most iat + 5 minutes, plus the tolerance).
      const validUntil = Math.min(payload.exp, payload.iat + LOGOUT_TOKEN_MAX_AGE_SECONDS) * 1000 + LOGOUT_TOKEN_CLOCK_TOLERANCE_SECONDS * 1000;
      const ttl = Math.max(60_000, validUntil - options.now());
      await sessions.call((s) => s.set(doneKey, { version: 1, expiresAt: options.now() + ttl, data: '' }, ttl));
      return json(200, { ended });
    } catch (err) {
      if (err instanceof FreshTokenError) return errorResponse(err);
      throw err;
    }
  }

  return { logout, endSession, backchannelLogout };
}
