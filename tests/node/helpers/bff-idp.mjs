// The real-IdP harness of the ngx-fresh-token/bff tests.
// - startBffIdp(): a real oidc-provider 9 on 127.0.0.1 (random port, an https issuer with the run's test
//   certificate from scripts/ensure-test-tls.mjs; `tls: false` for plain http) with three
//   confidential clients for the BFF (client_secret_basic, client_secret_post, private_key_jwt), PKCE
//   required, rotating refresh tokens with reuse detection, revocation, RP-initiated and back-channel
//   logout, 5 s JWT access tokens, ID tokens with `sid`. Login and consent are completed headlessly
//   for the account named by `login_hint`, so a cookie jar can walk the whole 302 chain. It counts
//   redemptions per grant type and revocations, can hold its answers to refresh grants (holdRefreshes),
//   can fail a route on purpose, records every token it issued (so tests can look for them where they
//   must not be) and every back-channel logout it posted (so tests can replay one).
//   Its fault-injecting front (`inject()`) answers the token or revocation endpoint the way a bad day
//   does: an HTML 403/404/408/503 page from a WAF or CDN, JSON without `error`, an OAuth error, a hang
//   past the client's timeout, or, after the IdP processed (and rotated) the grant, an answer replaced
//   or a connection dropped (the IdP committed, the answer never arrived).
// - startBffApp(): the app's server on 127.0.0.1, reached as http://localhost:PORT; it mounts
//   bff.handle() through a Node ⇄ Web Request/Response adapter, and answers every other path like a
//   server-rendered page would: with what bff.session() sees.
// - cookieJar(): a browser-like cookie jar over fetch (per host, Path, SameSite, Max-Age; Secure is
//   honoured on http loopback like browsers do on localhost), redirect: 'manual'.
// - recordingStore(), fakeClock(), signIn() and small helpers.
import { toWebRequest, writeNodeResponse } from './web-request.mjs';
import Provider from 'oidc-provider';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

export const API_RESOURCE = 'urn:ngx-fresh-token:bff-api';
export const BFF_SCOPE = 'openid offline_access api profile email internal';
export const BFF_CLIENTS = {
  client_secret_basic: { clientId: 'bff-basic', clientSecret: 'bff-basic-SeCrEt-7f3a9c1e5b2d4068-do-not-log' },
  client_secret_post: { clientId: 'bff-post', clientSecret: 'bff-post-SeCrEt-0c8e2a4f6b1d3957-do-not-log' },
  private_key_jwt: { clientId: 'bff-jwt' },
  /** A confidential client whose access tokens must be DPoP-bound (`dpop_bound_access_tokens`). */
  dpop: { clientId: 'bff-dpop', clientSecret: 'bff-dpop-SeCrEt-5e1b7d3a9c2f4086-do-not-log' },
  /** A client that does not ask for `sid` in its ID tokens (`backchannel_logout_session_required: false`). */
  noSid: { clientId: 'bff-nosid', clientSecret: 'bff-nosid-SeCrEt-2d6f8a0c4e1b3957-do-not-log' },
};
/** Claims of every account; `internal_role` and `phone_number` are in the ID token but must never reach /session/user by default. */
export const accountClaims = (sub) => ({
  sub,
  name: `${sub[0].toUpperCase()}${sub.slice(1)} Example`,
  preferred_username: sub,
  email: `${sub}@example.test`,
  internal_role: 'payroll-admin',
});
export const TEST_SECRETS = ['current-session-key-0123456789abcdef-AAAA', 'previous-session-key-0123456789abcdef-BBBB', 'other-session-key-0123456789abcdef-CCCCCC'];

/** base64url SHA-256 of a token: the X-Replaces-Token header value. */
export const tokenHash = (token) => createHash('sha256').update(token).digest('base64url');

/** A clock that moves only when told to; give `now` to createBff and memorySessionStore. */
export function fakeClock(start = Date.now()) {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms), set: (ms) => (t = ms) };
}

/**
 * Starts the IdP. `appOrigin` is the BFF app's origin: the redirect URI is `${appOrigin}/auth/callback`,
 * the back-channel logout URI `${appOrigin}/auth/backchannel-logout`, the post-logout URI `${appOrigin}/`.
 * `adapter`: oidc-provider's storage adapter (default its development memory adapter, an LRU of 1 000
 * entries shared by the process: enough for a test file, not for hundreds of sign-ins).
 */
export async function startBffIdp({ appOrigin, accessTokenTtlSeconds = 5, refreshTokenTtlSeconds = 3600, callbackPath = '/auth/callback', adapter, tls = true, apis = {} }) {
  // `apis`: more resource servers, { [resource]: 'scope …' }: their JWT access tokens carry that resource as `aud`.
  const tlsFiles = tls ? testTlsFiles() : null;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingJwk = { ...(await exportJWK(privateKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' };
  // The private_key_jwt client's key pair (ES256): the public half is registered, the private one goes to the BFF.
  const clientKeys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const clientPublicJwk = { ...(await exportJWK(clientKeys.publicKey)), kid: 'bff-client-key', alg: 'ES256', use: 'sig' };

  const events = new EventEmitter();
  const counts = { authorization_code: 0, refresh_token: 0, invalid_grant: 0, revocation: 0 };
  const tokenRequests = []; // { grantType, clientAuth, status, error }
  const revocations = []; // { token, tokenTypeHint, status, clientAuth }
  const issued = { accessTokens: [], refreshTokens: [], idTokens: [] };
  const backchannelPosts = []; // { url, logoutToken, status }
  const timeline = []; // shared with recordingStore(): the order of store calls and IdP requests
  const faults = new Map(); // route → status (fail())
  let injected = []; // inject(): { route, fault, left }
  const dpopState = { requireNonce: false };
  let gate = null;

  const redirectUri = `${appOrigin}${callbackPath}`;
  const common = {
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [`${appOrigin}/`],
    backchannel_logout_uri: `${appOrigin}/auth/backchannel-logout`,
    backchannel_logout_session_required: true,
    scope: BFF_SCOPE,
  };
  const provider = new Provider('http://127.0.0.1', {
    ...(adapter ? { adapter } : {}),
    clients: [
      { ...common, client_id: BFF_CLIENTS.client_secret_basic.clientId, client_secret: BFF_CLIENTS.client_secret_basic.clientSecret, token_endpoint_auth_method: 'client_secret_basic' },
      { ...common, client_id: BFF_CLIENTS.client_secret_post.clientId, client_secret: BFF_CLIENTS.client_secret_post.clientSecret, token_endpoint_auth_method: 'client_secret_post' },
      {
        ...common,
        client_id: BFF_CLIENTS.private_key_jwt.clientId,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [clientPublicJwk] },
      },
      { ...common, client_id: BFF_CLIENTS.dpop.clientId, client_secret: BFF_CLIENTS.dpop.clientSecret, token_endpoint_auth_method: 'client_secret_basic', dpop_bound_access_tokens: true },
      { ...common, client_id: BFF_CLIENTS.noSid.clientId, client_secret: BFF_CLIENTS.noSid.clientSecret, token_endpoint_auth_method: 'client_secret_basic', backchannel_logout_session_required: false },
    ],
    jwks: { keys: [signingJwk] },
    cookies: { keys: ['bff-idp-cookie-key'] },
    scopes: ['openid', 'offline_access', 'api', 'profile', 'email', 'internal'],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'], internal: ['internal_role'] },
    conformIdTokenClaims: false, // the scope's claims go into the ID token (what /session/user filters)
    pkce: { required: () => true },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: accessTokenTtlSeconds,
      RefreshToken: refreshTokenTtlSeconds,
      Grant: 3600,
      Session: 3600,
      Interaction: 600,
      AuthorizationCode: 60,
      IdToken: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true, allowedPolicy: () => true },
      clientCredentials: { enabled: true },
      // DPoP (RFC 9449): proofs are verified on every token request that carries one; `idp.dpop.requireNonce`
      // makes the token endpoint ask for its nonce (use_dpop_nonce) first.
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => dpopState.requireNonce },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.body = `<!DOCTYPE html><title>Sign out</title>${form}`;
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = '<!DOCTYPE html><title>Signed out</title>';
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) =>
          apis[resource]
            ? { scope: apis[resource], audience: resource, accessTokenTTL: accessTokenTtlSeconds, accessTokenFormat: 'jwt' }
            : { scope: 'api', audience: API_RESOURCE, accessTokenTTL: accessTokenTtlSeconds, accessTokenFormat: 'jwt' },
      },
    },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => accountClaims(sub) }),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // Back-channel logout to a loopback RP: oidc-provider's SSRF guard refuses loopback targets, so
    // drop its dispatcher and use the global fetch (ENVIRONMENT.md). Every post is recorded.
    fetch: async (url, options) => {
      const { dispatcher, ...rest } = options;
      const body = rest.body instanceof URLSearchParams ? rest.body : new URLSearchParams(String(rest.body ?? ''));
      const entry = { url: String(url), logoutToken: body.get('logout_token'), status: null };
      backchannelPosts.push(entry);
      try {
        const response = await globalThis.fetch(url, { ...rest, body });
        entry.status = response.status;
        return response;
      } finally {
        events.emit('backchannel', entry);
      }
    },
  });
  provider.proxy = false;
  provider.on('server_error', (_ctx, err) => console.error('[bff-idp] server error:', err?.name, err?.message));

  // Observe (and, on demand, hold or fail) the token and revocation endpoints.
  provider.use(async (ctx, next) => {
    const route =
      ctx.method === 'POST' && ctx.path === '/token' ? 'token' : ctx.method === 'POST' && ctx.path === '/token/revocation' ? 'revocation' : ctx.method === 'GET' && ctx.path === '/jwks' ? 'jwks' : null;
    const rule = route && injected.find((r) => r.route === route && r.left > 0);
    if (rule) {
      rule.left--;
      const { fault } = rule;
      timeline.push(`idp:${route}:inject`);
      events.emit('inject', { route, fault });
      if (fault.commit) {
        await next(); // the IdP processes the request (a refresh grant rotates) …
        const grantType = ctx.oidc?.params?.grant_type;
        if (route === 'token' && ctx.status === 200 && ctx.body?.access_token) {
          issued.accessTokens.push(ctx.body.access_token);
          if (ctx.body.refresh_token) issued.refreshTokens.push(ctx.body.refresh_token);
          if (grantType in counts) counts[grantType]++;
          tokenRequests.push({ grantType, clientAuth: 'unknown', status: 200, error: undefined, committed: true });
        }
      }
      if (fault.commit && fault.rewrite && ctx.status === 200 && ctx.body) {
        // … and its answer changes on the way (so the client rejects it after the fact), headers too if given.
        ctx.body = fault.rewrite(ctx.body);
        for (const [name, value] of Object.entries(fault.headers ?? {})) ctx.set(name, value);
        return;
      }
      if (fault.hangMs) await new Promise((r) => setTimeout(r, fault.hangMs));
      if (fault.drop) {
        // … and the answer never arrives: the connection ends without a response.
        ctx.req.socket.destroy();
        ctx.respond = false;
        return;
      }
      if (fault.status !== undefined) {
        ctx.status = fault.status;
        for (const [name, value] of Object.entries(fault.headers ?? {})) ctx.set(name, value);
        if (typeof fault.body === 'string') {
          ctx.type = fault.contentType ?? 'text/html; charset=utf-8';
          ctx.body = fault.body;
        } else if (fault.body !== undefined) {
          ctx.type = fault.contentType ?? 'application/json';
          ctx.body = JSON.stringify(fault.body);
        } else {
          ctx.body = '';
        }
        return;
      }
      if (fault.commit) return;
    }
    if (route && faults.has(route)) {
      timeline.push(`idp:${route}:fault`);
      ctx.status = faults.get(route);
      ctx.body = { error: 'temporarily_unavailable' };
      return;
    }
    await next();
    if (!route || route === 'jwks') return;
    const params = ctx.oidc?.params ?? {};
    const clientAuth = ctx.get('authorization').startsWith('Basic ') ? 'basic' : params.client_assertion ? 'jwt' : params.client_secret ? 'post' : 'none';
    if (route === 'token') {
      const grantType = params.grant_type;
      const error = ctx.status >= 400 ? ctx.body?.error : undefined;
      tokenRequests.push({ grantType, clientAuth, status: ctx.status, error, dpop: ctx.get('dpop') || undefined, tokenType: ctx.body?.token_type });
      if (grantType in counts) counts[grantType]++;
      if (error === 'invalid_grant') counts.invalid_grant++;
      if (ctx.status === 200 && ctx.body) {
        if (ctx.body.access_token) issued.accessTokens.push(ctx.body.access_token);
        if (ctx.body.refresh_token) issued.refreshTokens.push(ctx.body.refresh_token);
        if (ctx.body.id_token) issued.idTokens.push(ctx.body.id_token);
      }
      timeline.push(`idp:token:${grantType}:${ctx.status}`);
      events.emit('token', { grantType, status: ctx.status, error });
      if (grantType === 'refresh_token' && gate) {
        const held = gate;
        events.emit('refresh-held');
        await held.promise;
      }
    } else {
      counts.revocation++;
      revocations.push({ token: params.token, tokenTypeHint: params.token_type_hint, status: ctx.status, clientAuth });
      timeline.push(`idp:revocation:${ctx.status}`);
      events.emit('revocation');
    }
  });

  const callback = provider.callback();
  const listener = async (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      try {
        const details = await provider.interactionDetails(req, res);
        let result;
        if (details.prompt.name === 'login') {
          result = { login: { accountId: String(details.params.login_hint || 'alice') } };
        } else {
          const grant = details.grantId
            ? await provider.Grant.find(details.grantId)
            : new provider.Grant({ clientId: details.params.client_id, accountId: details.session.accountId });
          grant.addOIDCScope(String(details.params.scope));
          grant.addResourceScope(API_RESOURCE, 'api');
          for (const [resource, scope] of Object.entries(apis)) grant.addResourceScope(resource, scope);
          result = { consent: { grantId: await grant.save() } };
        }
        await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
      } catch (err) {
        res.statusCode = 500;
        res.end(String(err?.message));
      }
      return;
    }
    callback(req, res);
  };
  const server = tlsFiles ? createHttpsServer({ cert: readFileSync(tlsFiles.cert), key: readFileSync(tlsFiles.key) }, listener) : createServer(listener);
  // Kept-alive connections outlive a BFF process frozen for a few seconds (the multi-instance tests
  // SIGSTOP holders): on thaw its request goes out on the same connection instead of a closed one.
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `${tlsFiles ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
  provider.issuer = issuer;

  async function clientAuthFor(clientId) {
    const entry = Object.values(BFF_CLIENTS).find((c) => c.clientId === clientId);
    if (entry.clientSecret) return { headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(entry.clientSecret)}`).toString('base64')}` }, body: {} };
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: clientPublicJwk.kid })
      .setIssuer(clientId).setSubject(clientId).setAudience(issuer).setJti(randomBytes(8).toString('hex')).setIssuedAt().setExpirationTime('1m')
      .sign(clientKeys.privateKey);
    return { headers: {}, body: { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion } };
  }

  return {
    issuer,
    provider,
    events,
    counts,
    tokenRequests,
    revocations,
    issued,
    backchannelPosts,
    timeline,
    redirectUri,
    /** DPoP at the token endpoint: `requireNonce = true` makes it answer use_dpop_nonce to proofs without its current nonce. */
    dpop: dpopState,
    /** The private_key_jwt client's private key (a WebCrypto CryptoKey) and kid. */
    clientPrivateKey: { key: clientKeys.privateKey, kid: clientPublicJwk.kid },
    /** All tokens the IdP issued so far (access, refresh, ID). */
    allIssuedTokens: () => [...issued.accessTokens, ...issued.refreshTokens, ...issued.idTokens],
    /** Holds the IdP's answers to refresh-grant requests (after they were processed) until release(). */
    holdRefreshes() {
      let release;
      const promise = new Promise((resolve) => (release = resolve));
      gate = { promise };
      return {
        /** Resolves when the next refresh request is being held. */
        held: () => once(events, 'refresh-held'),
        release: () => {
          gate = null;
          release();
        },
      };
    },
    /** Answers `status` on `route` ('token' | 'revocation') until healed. */
    fail(route, status = 503) {
      faults.set(route, status);
      return () => faults.delete(route);
    },
    /**
     * The fault-injecting front: the next `times` (default 1) requests to `route` ('token' | 'revocation' | 'jwks')
     * get `fault` instead of the IdP's answer:
     * `{ status, body (string → HTML unless contentType; object → JSON), contentType, headers }` answers
     * that; `hangMs` holds the answer that long first; `commit: true` lets the IdP process the request
     * first (a refresh grant is redeemed and rotated), then replaces the answer (with `status`…), rewrites
     * its JSON (`rewrite: (body) => body`) or, with `drop: true`, ends the connection without one.
     * Returns a function that removes the rule.
     */
    inject(route, fault, times = 1) {
      const rule = { route, fault, left: times };
      injected.push(rule);
      return () => (injected = injected.filter((r) => r !== rule));
    },
    /** A refresh grant made directly at the IdP (as the BFF's client): { status, error, body }. Counts as a redemption. */
    async tryRefresh(refreshToken, clientId = BFF_CLIENTS.client_secret_basic.clientId) {
      const auth = await clientAuthFor(clientId);
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth.headers },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, ...auth.body }),
      });
      const body = await res.json();
      return { status: res.status, error: body.error, body };
    },
    /** Sends a real back-channel logout for (sub, sid) from the IdP itself (oidc-provider signs and posts it). */
    async backchannelLogout({ sub, sid, clientId = BFF_CLIENTS.client_secret_basic.clientId }) {
      const client = await provider.Client.find(clientId);
      const posted = once(events, 'backchannel');
      await client.backchannelLogout(sub, sid);
      const [entry] = await posted;
      return entry;
    },
    /**
     * A logout token signed with the IdP's own key (or `foreignKey`): by default `sub` only, the
     * back-channel event, a fresh `jti`, `iss` = issuer, `aud` = the client, `iat` now, `exp` in 2 minutes;
     * `claims` overrides or adds (`iat`/`exp` too, in seconds), `omit` drops claims by name (`exp` too).
     */
    async makeLogoutToken({ sub, sid, clientId = BFF_CLIENTS.client_secret_basic.clientId, claims = {}, omit = [], foreignKey = false } = {}) {
      const payload = {
        iss: issuer,
        aud: clientId,
        sub,
        sid,
        jti: randomBytes(12).toString('base64url'),
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        ...claims,
      };
      for (const name of omit) delete payload[name];
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      const key = foreignKey ? (await generateKeyPair('RS256')).privateKey : privateKey;
      const jwt = new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: signingJwk.kid, typ: 'logout+jwt' });
      if (!('iat' in claims) && !omit.includes('iat')) jwt.setIssuedAt();
      if (!('exp' in claims) && !omit.includes('exp')) jwt.setExpirationTime('2m');
      return jwt.sign(key);
    },
    /**
     * Ends the user's session at the IdP the way a browser does on the IdP's own logout page
     * (GET /session/end, then POST /session/end/confirm with its xsrf and logout=yes): oidc-provider then
     * posts a back-channel logout to every client of that session. Resolves with the recorded posts.
     */
    async endIdpSession(jar) {
      const before = backchannelPosts.length;
      const page = await jar.fetch(`${issuer}/session/end`);
      const html = await page.text();
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
      if (!xsrf) throw new Error(`no logout form at the IdP (${page.status})`);
      const confirm = await jar.fetch(`${issuer}/session/end/confirm`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
      });
      if (confirm.status >= 400) throw new Error(`IdP logout confirm failed: ${confirm.status}`);
      return backchannelPosts.slice(before);
    },
    close: () =>
      new Promise((resolve) => {
        gate = null;
        injected = [];
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** The run's test certificate (scripts/ensure-test-tls.mjs, set up by `npm test`); a clear error without it. */
export function testTlsFiles() {
  const cert = process.env.NFT_TEST_TLS_CERT;
  const key = process.env.NFT_TEST_TLS_KEY;
  if (!cert || !key || !process.env.NODE_EXTRA_CA_CERTS) {
    throw new Error('The HTTPS test IdP needs the run\'s test certificate: run through `npm test`, or first: eval "$(node scripts/ensure-test-tls.mjs)"');
  }
  return { cert, key };
}

/** Decodes a JWT's payload (no verification; tests only). */
export const jwtClaims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

// ─── the app server ────────────────────────────────────────────────────────────────────────────


/**
 * The app's server: 127.0.0.1, random port, reached as http://localhost:PORT. `mount(bff)` puts a BFF
 * in front; any path it does not answer (handle() → null) gets a JSON "page" with what
 * bff.session() sees, as a server-rendered page would. Emits 'request' with each path.
 */
export async function startBffApp() {
  let bff = null;
  const events = new EventEmitter();
  const handled = []; // { method, path, status, byBff }
  let origin = '';
  const server = createServer(async (req, res) => {
    const path = req.url;
    events.emit('request', { method: req.method, path });
    try {
      // NFT_BFF_FRONT=node: the BFF answers through bff.handleNode(req, res) (node:http in and out) instead of
      // handle() behind this helper's Node ⇄ Web adapter; the proxy suites run once with each front end.
      if (bff && process.env.NFT_BFF_FRONT === 'node' && (await bff.handleNode(req, res))) {
        handled.push({ method: req.method, path, status: res.statusCode, byBff: true });
        return;
      }
      const request = await toWebRequest(req, origin);
      let response = bff ? await bff.handle(request, { clientAddress: req.socket.remoteAddress }) : null;
      const byBff = response !== null;
      if (response === null) {
        const session = bff ? await bff.session(request) : null;
        response = Response.json({ page: new URL(request.url).pathname + new URL(request.url).search, session });
      }
      handled.push({ method: req.method, path, status: response.status, byBff });
      await writeNodeResponse(response, res);
    } catch (err) {
      handled.push({ method: req.method, path, status: 599, error: err });
      res.statusCode = 599;
      res.end(`app error: ${err?.message}`);
    }
  });
  // WebSocket handshakes go to bff.upgrade() (proxied APIs with websocket: true); anything else is refused.
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => undefined);
    Promise.resolve(typeof bff?.upgrade === 'function' ? bff.upgrade(req, socket, head, { clientAddress: req.socket.remoteAddress }) : false).then(
      (handled) => handled || socket.destroy(),
      () => socket.destroy(),
    );
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://localhost:${server.address().port}`;
  return {
    origin,
    events,
    handled,
    mount: (next) => (bff = next),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

// ─── the browser stand-in ──────────────────────────────────────────────────────────────────────

/** Parses one Set-Cookie line: { name, value, attrs (lower-cased names), raw }. */
export function parseSetCookie(line) {
  const [pair, ...rest] = line.split(';');
  const eq = pair.indexOf('=');
  const attrs = {};
  for (const part of rest) {
    const i = part.indexOf('=');
    const key = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    attrs[key] = i < 0 ? true : part.slice(i + 1).trim();
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attrs, raw: line };
}

/** True when a parsed Set-Cookie line deletes its cookie (Max-Age ≤ 0 or Expires in the past). */
export const clearsCookie = (c) =>
  (c.attrs['max-age'] !== undefined && Number(c.attrs['max-age']) <= 0) || (typeof c.attrs.expires === 'string' && Date.parse(c.attrs.expires) <= Date.now());

/**
 * A cookie jar standing in for a browser: cookies per host (port ignored, as browsers do), Path,
 * Max-Age/Expires, SameSite (Strict only same-site; Lax also on cross-site top-level GET navigations;
 * a cookie without SameSite counts as Lax). `Secure` cookies are stored and sent on http loopback, as
 * browsers do on localhost. Never follows redirects by itself.
 *
 * `jar.fetch(url, { method, headers, body, site, navigation, cookies })`: `site` ('same-origin' |
 * 'same-site' | 'cross-site', default 'same-origin') is the request's relation to the page that made it,
 * and is sent as Sec-Fetch-Site; `cookies: false` sends none.
 */
export function cookieJar() {
  const hosts = new Map(); // hostname → Map(`${name};${path}` → cookie)
  const sentLog = [];

  function store(url, line) {
    const c = parseSetCookie(line);
    const host = url.hostname;
    let cookies = hosts.get(host);
    if (!cookies) hosts.set(host, (cookies = new Map()));
    const defaultPath = url.pathname.lastIndexOf('/') > 0 ? url.pathname.slice(0, url.pathname.lastIndexOf('/')) : '/';
    const path = typeof c.attrs.path === 'string' && c.attrs.path.startsWith('/') ? c.attrs.path : defaultPath;
    const key = `${c.name};${path}`;
    if (clearsCookie(c)) return void cookies.delete(key);
    const maxAge = c.attrs['max-age'] !== undefined ? Number(c.attrs['max-age']) : undefined;
    cookies.set(key, {
      name: c.name,
      value: c.value,
      path,
      sameSite: typeof c.attrs.samesite === 'string' ? c.attrs.samesite.toLowerCase() : 'lax',
      expiresAt: maxAge !== undefined ? Date.now() + maxAge * 1000 : typeof c.attrs.expires === 'string' ? Date.parse(c.attrs.expires) : Infinity,
    });
  }

  function cookieHeader(url, { site, navigation, method }) {
    const cookies = hosts.get(url.hostname);
    if (!cookies) return '';
    const out = [];
    for (const [key, c] of cookies) {
      if (c.expiresAt <= Date.now()) {
        cookies.delete(key);
        continue;
      }
      const pathOk = url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`);
      if (!pathOk) continue;
      if (site === 'cross-site') {
        if (c.sameSite === 'strict') continue;
        if (c.sameSite === 'lax' && !(navigation && method === 'GET')) continue;
      }
      out.push(`${c.name}=${c.value}`);
    }
    return out.join('; ');
  }

  return {
    async fetch(input, { method = 'GET', headers = {}, body, site, navigation = false, cookies = true } = {}) {
      const url = new URL(input);
      const h = new Headers(headers);
      const cookie = cookies ? cookieHeader(url, { site: site ?? 'same-origin', navigation, method }) : '';
      if (cookie) h.set('cookie', cookie);
      if (site) h.set('sec-fetch-site', site);
      if (navigation) h.set('sec-fetch-mode', 'navigate');
      sentLog.push({ url: url.href, cookie });
      const res = await fetch(url, { method, headers: h, body, redirect: 'manual', ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) });
      for (const line of res.headers.getSetCookie()) store(url, line);
      return res;
    },
    /** The value of cookie `name` for `url`'s host (any path), or undefined. */
    get(url, name) {
      for (const c of hosts.get(new URL(url).hostname)?.values() ?? []) if (c.name === name) return c.value;
      return undefined;
    },
    /** Names of the cookies held for `url`'s host. */
    names(url) {
      return [...(hosts.get(new URL(url).hostname)?.values() ?? [])].map((c) => c.name);
    },
    /** The Cookie header a same-origin request to `url` would carry now. */
    header: (url) => cookieHeader(new URL(url), { site: 'same-origin', navigation: false, method: 'GET' }),
    sentLog,
  };
}

// ─── the session store, watched ────────────────────────────────────────────────────────────────

/**
 * Wraps a SessionStore and records every call with its arguments (deep copies) and result, in
 * `calls` and in the IdP's shared `timeline` (as `store:<method>`), for checks on what the store receives.
 */
export function recordingStore(inner, timeline = []) {
  const calls = [];
  const wrapped = {};
  for (const method of ['get', 'set', 'compareAndSet', 'delete', 'compareAndDelete', 'findByIndex', 'claimOnce', 'acquireLock', 'waitForUpdate', 'close']) {
    if (typeof inner[method] !== 'function') continue;
    wrapped[method] = async (...args) => {
      const entry = { method, args: structuredClone(args), result: undefined };
      calls.push(entry);
      timeline.push(`store:${method}`);
      const result = await inner[method](...args);
      entry.result = method === 'acquireLock' ? (result ? 'lock' : null) : result === undefined ? undefined : structuredClone(result);
      return result;
    };
  }
  return { store: wrapped, inner, calls, keys: () => [...new Set(calls.filter((c) => c.method === 'set' || c.method === 'compareAndSet').map((c) => c.args[0]))] };
}

// ─── the browser-side flow ─────────────────────────────────────────────────────────────────────

/** base options of createBff for the harness (client_secret_basic, http issuer allowed, silent logger). */
export function bffOptions(idp, app, overrides = {}) {
  return {
    issuer: idp.issuer,
    clientId: BFF_CLIENTS.client_secret_basic.clientId,
    clientSecret: BFF_CLIENTS.client_secret_basic.clientSecret,
    redirectUri: `${app.origin}/auth/callback`,
    postLogoutRedirectUri: `${app.origin}/`,
    scope: BFF_SCOPE,
    secrets: [TEST_SECRETS[0]],
    dangerouslyAllowInsecureHttpIssuer: true,
    logger: { warn: () => undefined },
    ...overrides,
  };
}

/**
 * Walks the IdP's 302 chain from `url` (the authorization request) until a Location points at the
 * redirect URI; returns that callback URL and the hops taken. Throws if the chain ends elsewhere.
 */
export async function walkIdp(jar, url, redirectUri, maxHops = 12) {
  const hops = [];
  let next = url;
  for (let i = 0; i < maxHops; i++) {
    const res = await jar.fetch(next, { site: 'cross-site', navigation: true });
    const location = res.headers.get('location');
    hops.push({ url: next, status: res.status, location });
    if (!location) throw new Error(`IdP chain stopped at ${res.status} ${next}: ${(await res.text()).slice(0, 300)}`);
    const resolved = new URL(location, next).href;
    if (resolved.startsWith(redirectUri)) return { callbackUrl: resolved, hops };
    next = resolved;
  }
  throw new Error(`IdP chain too long: ${JSON.stringify(hops.map((h) => [h.status, h.url.slice(0, 90)]))}`);
}

/** Reads the same-site hop target out of the callback's HTML page (meta refresh, else a link), HTML-unescaped. */
export function hopTarget(html) {
  const raw =
    /<meta[^>]+http-equiv=["']?refresh["']?[^>]*content=["'][^"']*?url=([^"']*)["']/i.exec(html)?.[1] ??
    /<meta[^>]+content=["'][^"']*?url=([^"']*)["'][^>]*http-equiv=["']?refresh/i.exec(html)?.[1] ??
    /<a[^>]+href=["']([^"']*)["']/i.exec(html)?.[1];
  if (raw === undefined) return undefined;
  return raw
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * A whole sign-in as a browser does it: the app's login link (same-origin navigation) → 302 to the IdP →
 * the IdP's chain → the callback (a cross-site navigation) → the hop page. Returns every piece.
 */
export async function signIn(jar, app, { returnUrl = '/', loginHint = 'alice', loginPath = '/auth/login' } = {}) {
  const loginUrl = new URL(loginPath, app.origin);
  if (returnUrl !== undefined) loginUrl.searchParams.set('returnUrl', returnUrl);
  if (loginHint !== undefined) loginUrl.searchParams.set('login_hint', loginHint);
  const login = await jar.fetch(loginUrl, { site: 'same-origin', navigation: true });
  if (login.status !== 302) throw new Error(`login answered ${login.status}: ${(await login.text()).slice(0, 300)}`);
  const authUrl = new URL(login.headers.get('location'));
  const { callbackUrl, hops } = await walkIdp(jar, authUrl.href, `${app.origin}/auth/callback`);
  const callback = await jar.fetch(callbackUrl, { site: 'cross-site', navigation: true });
  const html = await callback.text();
  return { login, authUrl, hops, callbackUrl, callback, html, target: hopTarget(html) };
}

/** Headers of a same-origin XHR to the BFF (what withSessionEndpoint() sends). */
export const xhr = (app, extra = {}) => ({ 'x-csrf': '1', origin: app.origin, ...extra });

/** GET /session/token (or POST) through the jar; resolves with { status, body, response }. */
export async function getToken(jar, app, headers = {}, method = 'GET') {
  const response = await jar.fetch(`${app.origin}/session/token`, { method, headers: xhr(app, headers) });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body, response };
}

/** GET /session/user through the jar. */
export async function getUser(jar, app, headers = {}) {
  const response = await jar.fetch(`${app.origin}/session/user`, { headers: xhr(app, headers) });
  return { status: response.status, body: await response.json().catch(() => null), response };
}

// ─── one test file's set-up ────────────────────────────────────────────────────────────────────

/** Rejects with a clear message when `promise` takes longer than `ms` (every wait in these tests is bounded). */
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))),
  ]);
}

/**
 * The app, the IdP, a fake clock, a recording memory store and one BFF mounted on the app.
 * `bffModule` is the imported 'ngx-fresh-token/bff'. `tb.newBff(overrides)` creates (and later closes)
 * another BFF on the same IdP, store and clock; `tb.mount(bff)` puts one in front of the app.
 */
export async function startBffTestbed(bffModule, { bff: overrides = {}, idp: idpOptions = {} } = {}) {
  const app = await startBffApp();
  let idp;
  const created = [];
  let clock, rec, bff, newBff;
  try {
    idp = await startBffIdp({ appOrigin: app.origin, ...idpOptions });
    clock = fakeClock();
    rec = recordingStore(bffModule.memorySessionStore({ now: clock.now }), idp.timeline);
    newBff = async (more = {}) => {
      const created1 = await bffModule.createBff(bffOptions(idp, app, { store: rec.store, now: clock.now, ...overrides, ...more }));
      created.push(created1);
      return created1;
    };
    bff = await newBff();
  } catch (err) {
    // A failed set-up must not leave servers keeping the test process alive.
    await idp?.close();
    await app.close();
    throw err;
  }
  app.mount(bff);
  return {
    app,
    idp,
    clock,
    rec,
    bff,
    newBff,
    mount: (b) => app.mount(b),
    async close() {
      for (const b of created) await b.close?.();
      await idp.close();
      await app.close();
    },
  };
}

/** The session cookie lines of a response: { set: parsed lines that set it, cleared: parsed lines that clear it }. */
export function sessionCookieLines(response, name = '__Host-nft-session') {
  const lines = response.headers.getSetCookie().map(parseSetCookie).filter((c) => c.name === name);
  return { set: lines.filter((c) => !clearsCookie(c)), cleared: lines.filter(clearsCookie) };
}
