// A loopback server that speaks Centrifugo's bidirectional client protocol v2 (JSON over
// WebSocket), as the real `centrifuge` client expects it. No Centrifugo server can run here, so
// the client-side tests run against this one. It follows what Centrifugo does, as read from
// centrifuge-js (the client's codec and reply handling) and Centrifugo's docs:
//
// - Frames carry newline-delimited JSON: the client batches several commands into one frame
//   (`{"id":1,"connect":{…}}\n{"id":2,"subscribe":{…}}`), and the server may batch replies.
// - connect `{id, connect:{token?, data?, name, version, headers?}}` →
//   `{id, connect:{client, version, expires?, ttl?, ping, pong}}`; a connection JWT is verified
//   (HS256 here), `sub` is the user and `exp` sets `expires`/`ttl` (seconds until exp).
//   Without a token and with a proxy-connect handler, the handler is asked with the connect's
//   emulated `headers` as HTTP headers, and its `result` / `error` / `disconnect` applied.
// - An expired token: error 109 "token expired" (connect, refresh and subscribe alike). An
//   invalid one: the connection is closed with 3500 "invalid token" (no reconnect).
// - refresh `{id, refresh:{token}}` → `{id, refresh:{client, version, expires, ttl}}`.
// - subscribe `{id, subscribe:{channel, token?}}` → `{id, subscribe:{expires?, ttl?}}`;
//   sub_refresh `{id, sub_refresh:{channel, token}}` → `{id, sub_refresh:{expires, ttl}}`.
//   Channels in `tokenChannels` need a subscription JWT whose `channel` and `sub` match.
// - A connection not refreshed by `exp + expiredCloseDelayMs` is closed with 3005
//   "connection expired" (reconnect); server pings are `{}` every `pingSeconds`, answered by `{}`.
// - `disconnect(code, reason)` closes every connection with that code, e.g. 3014.
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { jwtVerify, errors as joseErrors } from 'jose';

export async function startCentrifugoServer(options = {}) {
  const secret = new TextEncoder().encode(options.secret ?? 'loopback-centrifugo-secret');
  const tokenChannels = new Set(options.tokenChannels ?? []);
  const expiredCloseDelayMs = options.expiredCloseDelayMs ?? 25_000;
  const pingSeconds = options.pingSeconds ?? 25;
  const log = []; // every command received, in order: { conn, method, body }
  const events = new EventEmitter(); // 'command' after each entry of `log`, so tests wait on it
  const record = (entry) => {
    log.push(entry);
    events.emit('command', entry);
  };
  const connections = new Set();

  const http = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server: http, path: '/connection/websocket' });

  async function verify(token) {
    try {
      const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'], clockTolerance: 0 });
      return { claims: payload };
    } catch (err) {
      return { problem: err instanceof joseErrors.JWTExpired ? 'expired' : 'invalid' };
    }
  }

  const ttlOf = (exp) => Math.max(0, Math.ceil(exp - Date.now() / 1000));

  wss.on('connection', (ws) => {
    const conn = { ws, client: randomUUID(), user: null, exp: null, expiryTimer: null, pingTimer: null, connected: false, subs: new Map(), headers: null };
    connections.add(conn);

    const send = (...replies) => ws.readyState === ws.OPEN && ws.send(replies.map((r) => JSON.stringify(r)).join('\n'));
    const close = (code, reason) => {
      clearTimers();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
    };
    const clearTimers = () => {
      clearTimeout(conn.expiryTimer);
      clearInterval(conn.pingTimer);
      for (const sub of conn.subs.values()) clearTimeout(sub.expiryTimer);
    };
    // Centrifugo closes a connection that was not refreshed in time (after a grace delay).
    const armExpiry = () => {
      clearTimeout(conn.expiryTimer);
      if (conn.exp === null) return;
      const ms = conn.exp * 1000 - Date.now() + (conn.proxyRefresh ? 0 : expiredCloseDelayMs);
      conn.expiryTimer = setTimeout(() => {
        if (conn.proxyRefresh) void proxyRefresh();
        else close(3005, 'connection expired');
      }, Math.max(0, ms));
    };
    // With a refresh proxy, Centrifugo refreshes the connection itself, with the connect headers.
    const proxyRefresh = async () => {
      const answer = await callProxy(options.proxyRefresh, conn.headers, { client: conn.client, user: conn.user, transport: 'websocket', protocol: 'json', encoding: 'json' });
      record({ conn: conn.client, method: 'proxy_refresh', body: answer });
      if (answer.result?.expired) return close(3005, 'connection expired');
      if (answer.disconnect) return close(answer.disconnect.code, answer.disconnect.reason);
      if (answer.result) {
        conn.exp = answer.result.expire_at ?? null;
        armExpiry();
      } else close(3004, 'internal server error');
    };
    const armSubExpiry = (channel, exp) => {
      const sub = conn.subs.get(channel) ?? {};
      clearTimeout(sub.expiryTimer);
      sub.exp = exp;
      sub.expiryTimer = exp === null ? null : setTimeout(() => close(3006, 'subscription expired'), Math.max(0, exp * 1000 - Date.now() + expiredCloseDelayMs));
      conn.subs.set(channel, sub);
    };

    const handlers = {
      async connect(id, req) {
        if (conn.connected) return send({ id, error: { code: 107, message: 'bad request' } });
        let user;
        let exp = null;
        let extra = {};
        if (req.token) {
          const checked = await verify(req.token);
          if (checked.problem === 'expired') return send({ id, error: { code: 109, message: 'token expired' } });
          if (checked.problem) return close(3500, 'invalid token');
          user = String(checked.claims.sub ?? '');
          exp = typeof checked.claims.exp === 'number' ? checked.claims.exp : null;
        } else if (options.proxyConnect) {
          conn.headers = req.headers ?? {};
          const answer = await callProxy(options.proxyConnect, conn.headers, { client: conn.client, transport: 'websocket', protocol: 'json', encoding: 'json', name: req.name, version: req.version, data: req.data });
          record({ conn: conn.client, method: 'proxy_connect', body: answer });
          if (answer.disconnect) return close(answer.disconnect.code, answer.disconnect.reason);
          if (answer.error) return send({ id, error: { code: answer.error.code, message: answer.error.message, ...(answer.error.temporary ? { temporary: true } : {}) } });
          if (!answer.result) return send({ id, error: { code: 100, message: 'internal server error', temporary: true } });
          user = answer.result.user;
          exp = answer.result.expire_at ?? null;
          extra = answer.result.data !== undefined ? { data: answer.result.data } : {};
          conn.proxyRefresh = Boolean(options.proxyRefresh);
        } else {
          return close(3500, 'invalid token');
        }
        conn.user = user;
        conn.exp = exp;
        conn.connected = true;
        const reply = { client: conn.client, version: '0.0.0-loopback', ping: pingSeconds, pong: true, ...extra };
        // With a refresh proxy the server refreshes, so the client is not told to.
        if (exp !== null && !conn.proxyRefresh) Object.assign(reply, { expires: true, ttl: ttlOf(exp) });
        armExpiry();
        conn.pingTimer = setInterval(() => send({}), pingSeconds * 1000);
        send({ id, connect: reply });
      },
      async refresh(id, req) {
        if (!conn.connected) return close(3501, 'bad request');
        const checked = await verify(req.token ?? '');
        if (checked.problem === 'expired') return send({ id, error: { code: 109, message: 'token expired' } });
        if (checked.problem || String(checked.claims.sub ?? '') !== conn.user) return close(3500, 'invalid token');
        conn.exp = typeof checked.claims.exp === 'number' ? checked.claims.exp : null;
        armExpiry();
        send({ id, refresh: conn.exp === null ? { client: conn.client, version: '0.0.0-loopback' } : { client: conn.client, version: '0.0.0-loopback', expires: true, ttl: ttlOf(conn.exp) } });
      },
      async subscribe(id, req) {
        if (!conn.connected) return close(3501, 'bad request');
        const { channel } = req;
        if (conn.subs.has(channel)) return send({ id, error: { code: 105, message: 'already subscribed' } });
        if (!tokenChannels.has(channel)) {
          conn.subs.set(channel, { exp: null, expiryTimer: null });
          return send({ id, subscribe: {} });
        }
        const sub = await checkSubToken(req.token, channel);
        if (sub.error) return send({ id, error: sub.error });
        armSubExpiry(channel, sub.exp);
        send({ id, subscribe: sub.exp === null ? {} : { expires: true, ttl: ttlOf(sub.exp) } });
      },
      async sub_refresh(id, req) {
        const { channel } = req;
        if (!conn.subs.has(channel)) return send({ id, error: { code: 102, message: 'unknown channel' } });
        const sub = await checkSubToken(req.token, channel);
        if (sub.error) return send({ id, error: sub.error });
        armSubExpiry(channel, sub.exp);
        send({ id, sub_refresh: sub.exp === null ? {} : { expires: true, ttl: ttlOf(sub.exp) } });
      },
      async unsubscribe(id, req) {
        const sub = conn.subs.get(req.channel);
        if (sub) clearTimeout(sub.expiryTimer);
        conn.subs.delete(req.channel);
        send({ id, unsubscribe: {} });
      },
    };

    async function checkSubToken(token, channel) {
      if (!token) return { error: { code: 103, message: 'permission denied' } };
      const checked = await verify(token);
      if (checked.problem === 'expired') return { error: { code: 109, message: 'token expired' } };
      if (checked.problem || checked.claims.channel !== channel || String(checked.claims.sub ?? '') !== conn.user) {
        return { error: { code: 103, message: 'permission denied' } };
      }
      return { exp: typeof checked.claims.exp === 'number' ? checked.claims.exp : null };
    }

    // Commands of one frame are handled in order, as Centrifugo does for one connection.
    let queue = Promise.resolve();
    ws.on('message', (data, isBinary) => {
      if (isBinary) return close(3501, 'bad request');
      const lines = data.toString('utf8').split('\n').filter((l) => l.trim() !== '');
      queue = queue.then(async () => {
        for (const line of lines) {
          let cmd;
          try {
            cmd = JSON.parse(line);
          } catch {
            return close(3501, 'bad request');
          }
          const method = Object.keys(cmd).find((k) => k !== 'id');
          if (method === undefined) continue; // a pong `{}`
          record({ conn: conn.client, method, body: cmd[method], at: Date.now() });
          const handler = handlers[method];
          if (!handler) {
            send({ id: cmd.id, error: { code: 104, message: 'method not found' } });
            continue;
          }
          await handler(cmd.id, cmd[method] ?? {});
        }
      });
    });
    ws.on('close', () => {
      clearTimers();
      connections.delete(conn);
    });
  });

  async function callProxy(handler, headers, body) {
    const request = new Request('http://127.0.0.1/centrifugo/proxy', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(headers ?? {}) },
      body: JSON.stringify(body),
    });
    const response = await handler(request);
    if (response.status !== 200) return { error: { code: 100, message: 'internal server error', temporary: true } };
    return response.json();
  }

  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${http.address().port}/connection/websocket`;

  return {
    url,
    log,
    /** Emits `command` with each new entry of `log`. */
    events,
    /** Commands of one method, in order. */
    commands: (method) => log.filter((e) => e.method === method),
    /** Open connections. */
    get connectionCount() {
      return connections.size;
    },
    /** Closes every connection with a disconnect code, as Centrifugo's disconnect API does. */
    disconnect(code, reason) {
      for (const conn of connections) conn.ws.close(code, reason);
    },
    /** Sends a publication to every connection subscribed to `channel`. */
    publish(channel, data) {
      for (const conn of connections) {
        if (conn.subs.has(channel)) conn.ws.send(JSON.stringify({ push: { channel, pub: { data } } }));
      }
    },
    async close() {
      for (const conn of connections) conn.ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
