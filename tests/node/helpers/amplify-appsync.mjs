// A loopback stand-in for AppSync (GraphQL over HTTP, and the Events API over HTTP and
// WebSocket). No AppSync or AppSync Events emulator exists offline (the npm AppSync simulator
// has no Events API and accepts expired and forged tokens), so this server follows the
// documented protocol (REFERENCE.md) and verifies every token with jose against cognito-local's
// JWKS (and, optionally, a second issuer's key for non-Cognito OIDC tokens). Expired, forged
// and revoked tokens get 401 / UnauthorizedException.
import { createServer } from 'node:http';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { WebSocketServer } from 'ws';

const UNAUTHORIZED_BODY = JSON.stringify({
  errors: [{ errorType: 'UnauthorizedException', message: 'You are not authorized to make this call.' }],
});

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

/** Claims of a token that failed verification, for the request log only. */
function unverifiedClaims(token) {
  try {
    return decodeJwt(token);
  } catch {
    return null;
  }
}

function fromBase64Url(text) {
  return JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
}

/**
 * Starts the server. `jwksUrl`: cognito-local's JWKS; `extraJwks`: a JWKS object of another
 * issuer (non-Cognito OIDC); `cors: true` lets a page on another origin (the demo) call it, as
 * AppSync does. Returns its endpoints, request logs and test controls.
 */
export async function startAppSync({ jwksUrl, extraJwks, connectionTimeoutMs = 300_000, kaIntervalMs = 1_000, cors = false } = {}) {
  const keySets = [];
  if (jwksUrl) keySets.push(createRemoteJWKSet(new URL(jwksUrl)));
  if (extraJwks) keySets.push(createLocalJWKSet(extraJwks));
  const revoked = new Set();
  const graphqlLog = [];
  const handshakes = [];
  const subscribeLog = [];
  const publishLog = [];
  const sockets = new Set();
  const handshakeOf = new Map();
  /** channel -> Set of { ws, id } */
  const channels = new Map();
  let delayMs = 0;
  let refuseAll = false;

  /** The verified claims, or null for a missing, forged, expired or revoked token. */
  async function verify(token) {
    if (!token || typeof token !== 'string' || refuseAll) return null;
    for (const keys of keySets) {
      try {
        const { payload } = await jwtVerify(token, keys, { algorithms: ['RS256'] });
        if (payload.jti && revoked.has(payload.jti)) return null;
        return payload;
      } catch {
        // try the next issuer
      }
    }
    return null;
  }

  function deliver(channel, events) {
    for (const sub of channels.get(channel) ?? []) {
      for (const event of events) sub.ws.send(JSON.stringify({ type: 'data', id: sub.id, event }));
    }
  }

  const server = createServer(async (req, res) => {
    try {
      if (cors) {
        res.setHeader('access-control-allow-origin', req.headers.origin ?? '*');
        res.setHeader('vary', 'Origin');
        if (req.method === 'OPTIONS') {
          res.writeHead(204, {
            'access-control-allow-methods': 'POST, OPTIONS',
            'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'authorization, content-type',
            'access-control-max-age': '600',
          });
          res.end();
          return;
        }
      }
      if (req.method === 'POST' && req.url === '/graphql') {
        const body = await readJson(req);
        const token = req.headers.authorization;
        const claims = await verify(token);
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        const seen = claims ?? unverifiedClaims(token);
        graphqlLog.push({ status: claims ? 200 : 401, token, jti: seen?.jti, exp: seen?.exp, receivedAtMs: Date.now() });
        if (!claims) {
          res.writeHead(401, { 'content-type': 'application/json', 'x-amzn-errortype': 'UnauthorizedException' });
          res.end(UNAUTHORIZED_BODY);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data: { me: { sub: claims.sub, jti: claims.jti ?? null, query: String(body.query ?? '').trim().slice(0, 40) } } }));
        return;
      }
      if (req.method === 'POST' && req.url === '/event') {
        const body = await readJson(req);
        const claims = await verify(req.headers.authorization);
        publishLog.push({ via: 'http', status: claims ? 200 : 401, channel: body.channel, token: req.headers.authorization });
        if (!claims) {
          res.writeHead(401, { 'content-type': 'application/json', 'x-amzn-errortype': 'UnauthorizedException' });
          res.end(UNAUTHORIZED_BODY);
          return;
        }
        deliver(body.channel, body.events ?? []);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ successful: (body.events ?? []).map((_, index) => ({ identifier: String(index), index })), failed: [] }));
        return;
      }
      res.writeHead(404).end();
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    }
  });

  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has('aws-appsync-event-ws') ? 'aws-appsync-event-ws' : false),
  });

  server.on('upgrade', (req, socket, head) => {
    if (!req.url.startsWith('/event/realtime')) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', async (ws, req) => {
    sockets.add(ws);
    const subs = new Map();
    let ka;
    let expiryTimer;
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const headerProto = protocols.find((p) => p.startsWith('header-'));
    let headers = {};
    try {
      headers = headerProto ? fromBase64Url(headerProto.slice('header-'.length)) : {};
    } catch {
      headers = {};
    }
    const claimsPromise = verify(headers.Authorization);
    const handshake = { authorization: headers.Authorization, headers, ok: false, closedBy: null };
    handshakes.push(handshake);
    handshakeOf.set(ws, handshake);
    const cleanup = () => {
      clearInterval(ka);
      clearTimeout(expiryTimer);
      sockets.delete(ws);
      for (const [id, channel] of subs) channels.get(channel)?.forEach((s) => s.id === id && s.ws === ws && channels.get(channel).delete(s));
    };
    ws.on('close', cleanup);
    ws.on('message', async (raw) => {
      let msg;
      try {
        msg = JSON.parse(raw.toString('utf8'));
      } catch {
        return;
      }
      if (msg.type === 'connection_init') {
        const claims = await claimsPromise;
        if (!claims) {
          ws.send(JSON.stringify({ type: 'connection_error', errors: [{ errorType: 'UnauthorizedException', message: 'You are not authorized to make this call.', errorCode: 401 }] }));
          ws.close(1000);
          return;
        }
        handshake.ok = true;
        handshake.exp = claims.exp;
        ws.send(JSON.stringify({ type: 'connection_ack', connectionTimeoutMs }));
        ka = setInterval(() => ws.send(JSON.stringify({ type: 'ka' })), kaIntervalMs);
        // Like AppSync, the connection ends when the token it was opened with expires.
        if (typeof claims.exp === 'number') {
          expiryTimer = setTimeout(() => closeWithAuthError(ws, handshake, 'expired'), Math.max(0, claims.exp * 1000 - Date.now()));
        }
        return;
      }
      if (msg.type === 'subscribe') {
        const claims = handshake.ok ? await verify(msg.authorization?.Authorization) : null;
        subscribeLog.push({ id: msg.id, channel: msg.channel, authorization: msg.authorization?.Authorization, ok: !!claims });
        if (!claims) {
          ws.send(JSON.stringify({ type: 'subscribe_error', id: msg.id, errors: [{ errorType: 'UnauthorizedException', message: 'You are not authorized to make this call.' }] }));
          return;
        }
        subs.set(msg.id, msg.channel);
        if (!channels.has(msg.channel)) channels.set(msg.channel, new Set());
        channels.get(msg.channel).add({ ws, id: msg.id });
        ws.send(JSON.stringify({ type: 'subscribe_success', id: msg.id }));
        return;
      }
      if (msg.type === 'unsubscribe') {
        const channel = subs.get(msg.id);
        subs.delete(msg.id);
        channels.get(channel)?.forEach((s) => s.id === msg.id && s.ws === ws && channels.get(channel).delete(s));
        ws.send(JSON.stringify({ type: 'unsubscribe_success', id: msg.id }));
        return;
      }
      if (msg.type === 'publish') {
        const claims = handshake.ok ? await verify(msg.authorization?.Authorization) : null;
        publishLog.push({ via: 'ws', id: msg.id, channel: msg.channel, authorization: msg.authorization?.Authorization, ok: !!claims });
        if (!claims) {
          ws.send(JSON.stringify({ type: 'publish_error', id: msg.id, errors: [{ errorType: 'UnauthorizedException', message: 'You are not authorized to make this call.' }] }));
          return;
        }
        deliver(msg.channel, msg.events ?? []);
        ws.send(JSON.stringify({ type: 'publish_success', id: msg.id, successful: (msg.events ?? []).map((_, index) => ({ identifier: String(index), index })), failed: [] }));
      }
    });
  });

  function closeWithAuthError(ws, handshake, reason) {
    if (ws.readyState !== ws.OPEN) return;
    handshake.closedBy = reason;
    ws.send(JSON.stringify({ type: 'error', errors: [{ errorType: 'UnauthorizedException', message: 'Token has expired.' }] }));
    ws.close(4401, 'Unauthorized');
  }

  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;

  return {
    origin,
    graphqlEndpoint: `${origin}/graphql`,
    eventsEndpoint: `${origin}/event`,
    graphqlLog,
    handshakes,
    subscribeLog,
    publishLog,
    /** Revokes an access token (by `jti`): the server answers 401 to it from now on. */
    revoke(jti) {
      revoked.add(jti);
    },
    /** Refuses every token (as a misconfigured authorizer would) while `on`. */
    setRefuseAll(on) {
      refuseAll = on;
    },
    /** Adds latency to every GraphQL answer. */
    setDelayMs(ms) {
      delayMs = ms;
    },
    /** Publishes events to a channel, as another client would. */
    broadcast(channel, events) {
      deliver(channel, events.map((e) => JSON.stringify(e)));
    },
    /** Closes every open Events socket with an auth error, as AppSync does for a revoked token. */
    closeAllWithAuthError() {
      const list = [...sockets];
      list.forEach((ws) => closeWithAuthError(ws, handshakeOf.get(ws), 'server'));
      return list.length;
    },
    openSockets: () => sockets.size,
    subscriberCount: (channel) => channels.get(channel)?.size ?? 0,
    async stop() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    },
  };
}
