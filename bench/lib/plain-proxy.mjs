// The floor for the proxy benchmark: a plain Node reverse proxy on the same HTTP stack as the BFF's
// (node:http in, node:http out, a keep-alive agent, bodies piped), with none of the BFF's checks.
// Run as a child: PLAIN_PROXY='{"port":N,"target":"http://127.0.0.1:M"}' node bench/lib/plain-proxy.mjs
// (prints {"port":N} once it listens; leaves when its parent goes).
import { Agent, createServer, request } from 'node:http';

const { port, target } = JSON.parse(process.env.PLAIN_PROXY);
const upstream = new URL(target);
const agent = new Agent({ keepAlive: true });
const server = createServer((req, res) => {
  const headers = { ...req.headers, host: upstream.host };
  delete headers.connection;
  const out = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  out.on('error', () => {
    res.statusCode = 502;
    res.end();
  });
  req.pipe(out);
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on('disconnect', () => process.exit(0));
