// A minimal loopback token endpoint for the fault cases a real OAuth server does not produce on
// demand: 429 with Retry-After, 503, malformed JSON, a missing access_token, a hang. Each request
// takes the next scripted answer (the last one repeats); every request is recorded.
import { createServer } from 'node:http';

/**
 * Starts the endpoint. `answers` items: `{ status, headers?, body? }` (body: object → JSON, string → as is)
 * or `'hang'` (never answers). Returns `{ url, requests, script(answers), close() }`; each request
 * is `{ atMs, headers, body: URLSearchParams, aborted }`.
 */
export async function startFaultTokenEndpoint(answers = []) {
  let queue = [...answers];
  const requests = [];
  const hanging = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const record = { atMs: Date.now(), headers: req.headers, body: new URLSearchParams(Buffer.concat(chunks).toString()), aborted: false };
      requests.push(record);
      const answer = queue.length > 1 ? queue.shift() : queue[0];
      if (!answer || answer === 'hang') {
        hanging.add(res);
        res.on('close', () => {
          record.aborted = !res.writableEnded;
          hanging.delete(res);
        });
        return;
      }
      const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
      res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers ?? {}) });
      res.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/oauth2/token`;
  return {
    url,
    requests,
    script(next) {
      queue = [...next];
      requests.length = 0;
    },
    close: () =>
      new Promise((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** A JSON token answer with an opaque token that expires in `expiresIn` seconds. */
export function tokenAnswer(accessToken, expiresIn = 3600, extra = {}) {
  return { status: 200, body: { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn, ...extra } };
}
