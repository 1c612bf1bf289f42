// A real loopback API for the proxy tests: a node:http server on 127.0.0.1 that records what reaches it
// (method, path, headers, body size; never keeping large bodies) and answers by path:
//   /echo…            200 JSON { method, path, query, headers, bodyBytes } (the whole request as it arrived)
//   /set-cookie       200 with Set-Cookie (one of them for the BFF's own session cookie), Clear-Site-Data, Service-Worker-Allowed
//   /public-cache     200 with Cache-Control: public, max-age=600
//   /download?mb=N    200 with N MiB of bytes, streamed
//   /upload[?slowMs=N] 200 JSON { bodyBytes } after reading (and dropping) the whole body, slowly with slowMs
//   /sse?n=N&gapMs=M  text/event-stream: N events, M ms apart (each written and flushed on its own)
//   /hang             never answers
//   /reset            destroys the connection
//   /status/N         answers N
//   anything else     the echo, without its extra headers
// `auth.rejectNext(n)` makes the next n requests with an Authorization header answer 401.
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';

export async function startUpstream() {
  const events = new EventEmitter();
  const seen = []; // { method, path, headers, bodyBytes }
  let reject = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://upstream.test');
    let bodyBytes = 0;
    // ?slowMs=N: read the body slowly (a pause of N ms after each chunk), so a proxy without backpressure would pile it up.
    const slowMs = Number(url.searchParams.get('slowMs') ?? '0');
    req.on('data', (chunk) => {
      bodyBytes += chunk.length;
      if (slowMs > 0) {
        req.pause();
        setTimeout(() => req.resume(), slowMs);
      }
    });
    req.on('end', () => {
      const entry = { method: req.method, path: url.pathname, query: url.search, headers: { ...req.headers }, bodyBytes };
      seen.push(entry);
      events.emit('request', entry);
      if (reject > 0 && req.headers.authorization) {
        reject--;
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' });
        return res.end(JSON.stringify({ error: 'invalid_token' }));
      }
      const p = url.pathname.replace(/^\/v\d+/, '');
      if (p.startsWith('/echo') || p === '/' || p === '') {
        res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes', connection: 'keep-alive, x-hop', 'x-hop': 'secret-hop' });
        return res.end(JSON.stringify(entry));
      }
      if (p === '/set-cookie') {
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['upstream=1; Path=/', 'other=2; Path=/', '__Host-nft-session=forged; Path=/; Secure; HttpOnly'], 'clear-site-data': '"cookies"', 'service-worker-allowed': '/' });
        return res.end('{}');
      }
      if (p === '/public-cache') {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=600, s-maxage=600' });
        return res.end('{}');
      }
      if (p === '/upload') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ bodyBytes }));
      }
      if (p === '/download') {
        const mb = Number(url.searchParams.get('mb') ?? '1');
        const chunk = Buffer.alloc(64 * 1024, 7);
        let left = (mb * 1024 * 1024) / chunk.length;
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(mb * 1024 * 1024) });
        const pump = () => {
          while (left > 0) {
            left--;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        return pump();
      }
      if (p === '/sse') {
        const n = Number(url.searchParams.get('n') ?? '3');
        const gap = Number(url.searchParams.get('gapMs') ?? '200');
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        let i = 0;
        const send = () => {
          res.write(`id: ${i}\ndata: event ${i}\n\n`);
          events.emit('sse-sent', i);
          if (++i < n) setTimeout(send, gap);
          else res.end();
        };
        return send();
      }
      if (p === '/hang') return; // never answers
      if (p === '/reset') return req.socket.destroy();
      const status = /^\/status\/(\d{3})$/.exec(p);
      if (status) {
        res.writeHead(Number(status[1]), { 'content-type': 'application/json' });
        return res.end('{}');
      }
      // Anything else: the echo.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(entry));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    seen,
    events,
    rejectNext: (n = 1) => (reject = n),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
