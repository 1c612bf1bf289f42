// review harness: starts idp, upstreams, handleNode server (A) and handle() server (B); writes state
import { once } from 'node:events';
import { createServer } from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import * as bffModule from 'ngx-fresh-token/bff';
import { bffOptions, cookieJar, signIn, startBffIdp } from './helpers/bff-idp.mjs';
import { startUpstream } from './helpers/upstream.mjs';

const log = (...a) => fs.appendFileSync('/tmp/review-node/harness.log', a.map(String).join(' ') + '\n');
process.on('uncaughtException', (e) => { log('UNCAUGHT', e?.stack); });
process.on('unhandledRejection', (e) => { log('UNHANDLED', e?.stack ?? e); });

const up = await startUpstream();
// raw recording: every byte that reaches the echo upstream, per connection
const rawConns = [];
// a scriptable raw upstream: answers by a map path->raw bytes, records raw bytes in
const evilSeen = [];
let evilAnswers = {};
const evil = net.createServer((sock) => {
  const conn = { id: evilSeen.length, data: '' };
  evilSeen.push(conn);
  sock.on('error', () => {});
  sock.on('data', (d) => {
    conn.data += d.toString('latin1');
    const m = /^[A-Z]+ (\S+) HTTP/m.exec(conn.data.split('\r\n\r\n').at(-2) ?? conn.data);
    if (!conn.answered && conn.data.includes('\r\n\r\n')) {
      conn.answered = true;
      const first = /^[A-Z]+ (\S+) HTTP/.exec(conn.data);
      const p = first ? first[1] : '';
      const key = Object.keys(evilAnswers).find((k) => p.includes(k));
      if (key) { const a = evilAnswers[key]; if (typeof a === 'function') a(sock, conn); else sock.write(a); }
    }
  });
});
evil.listen(0, '127.0.0.1'); await once(evil, 'listening');
const evilOrigin = `http://127.0.0.1:${evil.address().port}`;
globalThis.setEvil = (m) => (evilAnswers = m);

let bff;
const A = createServer(async (req, res) => {
  try {
    if (bff && (await bff.handleNode(req, res, globalThis.INFO))) return;
  } catch (err) { res.writeHead(598); return res.end('rejected ' + (err?.code ?? err?.message)); }
  let bytes = 0; req.on('data', (c) => (bytes += c.length)); await once(req, 'end');
  res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ app: true, path: req.url, bytes }));
});
A.on('clientError', (e, s) => { log('A clientError', e.code); s.destroy(); });
A.listen(0, '127.0.0.1'); await once(A, 'listening');
const B = createServer(async (req, res) => {
  // simple adapter: Web Request like @angular/ssr/node
  const url = new URL(req.url, `http://${req.headers.host}`);
  const headers = new Headers();
  for (const [n, v] of Object.entries(req.headers)) { if (Array.isArray(v)) for (const x of v) headers.append(n, x); else headers.append(n, v); }
  const ac = new AbortController(); res.once('close', () => { if (!res.writableFinished) ac.abort(); });
  const init = { method: req.method, headers, signal: ac.signal };
  if (req.method !== 'GET' && req.method !== 'HEAD') { init.body = (await import('node:stream')).Readable.toWeb(req); init.duplex = 'half'; }
  let response;
  try { response = await bff.handle(new Request(url, init), { clientAddress: req.socket.remoteAddress }); } catch (e) { res.writeHead(597); return res.end('adapter ' + e.message); }
  if (!response) { res.writeHead(200); return res.end('app'); }
  const lines = []; for (const [n, v] of response.headers) if (n !== 'set-cookie') lines.push(n, v);
  for (const c of response.headers.getSetCookie()) lines.push('set-cookie', c);
  res.writeHead(response.status, lines);
  if (!response.body) return res.end();
  const { Readable } = await import('node:stream'); Readable.fromWeb(response.body).on('error', () => res.destroy()).pipe(res);
});
B.listen(0, '127.0.0.1'); await once(B, 'listening');
const app = { origin: `http://localhost:${A.address().port}` };
const bOrigin = `http://localhost:${B.address().port}`;
const idp = await startBffIdp({ appOrigin: app.origin, apis: { 'https://orders.example.test': 'orders:read' } });
bff = await bffModule.createBff(bffOptions(idp, app, {
  allowedOrigins: [bOrigin],
  apis: {
    orders: { resource: 'https://orders.example.test', proxy: { path: '/api/orders', target: `${up.origin}/v1`, token: 'user' } },
    open: { proxy: { path: '/api/open', target: up.origin, token: 'none', forwardSetCookie: true } },
    evil: { proxy: { path: '/api/evil', target: evilOrigin, token: 'none', timeoutMs: 3000 } },
  },
}));
const jar = cookieJar();
const s = await signIn(jar, app, { loginHint: 'alice' });
const cookie = jar.header(app.origin);
log('cb html', s.html.slice(0,500));
const state = { a: app.origin, b: bOrigin, up: up.origin, evil: evilOrigin, cookie, cb: s.callback.status };
fs.writeFileSync('/tmp/review-node/state.json', JSON.stringify(state));
log('ready', JSON.stringify(state));
// control channel: eval js sent to a small http server
const ctl = createServer(async (req, res) => {
  let b = ''; for await (const c of req) b += c;
  try { const r = await (0, eval)(`(async()=>{${b}})()`); res.end(JSON.stringify(r ?? null)); } catch (e) { res.end('ERR ' + e.stack); }
});
globalThis.up = up; globalThis.evilSeen = evilSeen; globalThis.bff = bff; globalThis.A = A;
ctl.listen(47999, '127.0.0.1');
