// Sign-out (POST /auth/logout): the session is deleted first, then its refresh token is revoked
// once (RFC 7009), and the answer carries the IdP's end-session URL (RP-initiated logout).
// Back-channel logout (POST /auth/backchannel-logout, OpenID Connect Back-Channel Logout 1.0): the
// IdP posts a signed logout token; verified, it ends the sessions of its `sid`, or all of its `sub`.
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { sha256 } from './crypto';
import { bffError, BffErrorCode, FreshTokenError } from './errors';
import { errorResponse, json, withTimeout } from './http';
import { client, type OidcConfiguration } from './oidc';
import type { ResolvedBffOptions } from './options';
import type { Sessions } from './sessions';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** How long a logout token's `jti` is remembered when the token has no `exp`. */
const LOGOUT_TOKEN_REPLAY_WINDOW_MS = 10 * 60_000;

/** The sign-out routes of one BFF. */
export function createLogoutRoutes(options: ResolvedBffOptions, sessions: Sessions, config: OidcConfiguration) {
  const metadata = config.serverMetadata();
  const jwks = metadata.jwks_uri ? createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: options.tokenRequestTimeoutMs }) : null;

  async function logout(request: Request): Promise<Response> {
    const { session } = await sessions.load(request, false);
    let endSessionUrl: string | null = null;
    if (session) {
      await sessions.remove(session.key);
      options.onEvent({ type: 'logout', sessionKey: session.key, sub: session.data.sub });
      if (session.data.refreshToken) {
        // Exactly one revocation; a failure (IdP down) is logged without the token and never keeps the session.
        await withTimeout(
          client.tokenRevocation(config, session.data.refreshToken, { token_type_hint: 'refresh_token' }),
          options.tokenRequestTimeoutMs,
          () => new Error('timeout'),
        ).catch(() => options.logger.warn('ngx-fresh-token/bff: revoking the refresh token at sign-out failed; the session was ended anyway.'));
      }
      if (metadata.end_session_endpoint) {
        const params: Record<string, string> = { client_id: options.clientId };
        if (session.data.idToken) params['id_token_hint'] = session.data.idToken;
        if (options.postLogoutRedirectUri) params['post_logout_redirect_uri'] = options.postLogoutRedirectUri.href;
        endSessionUrl = client.buildEndSessionUrl(config, params).href;
      }
    }
    return json(200, { endSessionUrl }, { cookies: [sessions.clearCookie()] });
  }

  const rejected = (why: string) => bffError(BffErrorCode.LogoutTokenRejected, `the back-channel logout token was rejected: ${why}.`, { status: 400 });

  async function verifyLogoutToken(token: string): Promise<JWTPayload> {
    if (!jwks) throw rejected('the issuer publishes no jwks_uri');
    let payload: JWTPayload;
    let typ: string | undefined;
    try {
      const verified = await jwtVerify(token, jwks, {
        issuer: metadata.issuer,
        audience: options.clientId,
        requiredClaims: ['iat', 'jti'],
        clockTolerance: 60,
        currentDate: new Date(options.now()),
      });
      payload = verified.payload;
      typ = verified.protectedHeader.typ;
    } catch {
      throw rejected('signature, issuer, audience or lifetime did not verify');
    }
    if (typ !== undefined && typ.toLowerCase() !== 'logout+jwt' && typ.toLowerCase() !== 'application/logout+jwt') throw rejected('wrong typ');
    const events = payload['events'] as Record<string, unknown> | undefined;
    if (!events || typeof events !== 'object' || typeof events[BACKCHANNEL_LOGOUT_EVENT] !== 'object' || events[BACKCHANNEL_LOGOUT_EVENT] === null) {
      throw rejected('no back-channel logout event');
    }
    if ('nonce' in payload) throw rejected('a logout token must not carry a nonce');
    if (typeof payload.sub !== 'string' && typeof payload['sid'] !== 'string') throw rejected('neither sub nor sid');
    return payload;
  }

  async function backchannelLogout(request: Request): Promise<Response> {
    try {
      const type = request.headers.get('content-type') ?? '';
      if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) throw rejected('the body must be application/x-www-form-urlencoded');
      const body = await request.text();
      if (body.length > 16_384) throw rejected('the body is too large');
      const token = new URLSearchParams(body).get('logout_token');
      if (!token) throw rejected('no logout_token');
      const payload = await verifyLogoutToken(token);
      const replayTtl = typeof payload.exp === 'number' ? Math.max(60_000, payload.exp * 1000 - options.now() + 60_000) : LOGOUT_TOKEN_REPLAY_WINDOW_MS;
      const jtiKey = `logout-jti:${await sha256(`${metadata.issuer}\n${payload.jti}`)}`;
      const first = await sessions.call((s) => s.claimOnce(jtiKey, replayTtl));
      if (!first) throw rejected('this logout token was already used');
      const entry = typeof payload['sid'] === 'string' ? await sessions.indexEntry('sid', payload['sid']) : await sessions.indexEntry('sub', payload.sub!);
      const keys = await sessions.call((s) => s.findByIndex(entry));
      for (const key of keys) {
        await sessions.remove(key);
        options.onEvent({ type: 'backchannel-logout', sessionKey: key, sub: typeof payload.sub === 'string' ? payload.sub : undefined });
      }
      return json(200, { ended: keys.length });
    } catch (err) {
      if (err instanceof FreshTokenError) return errorResponse(err);
      throw err;
    }
  }

  return { logout, backchannelLogout };
}
