// The proxy suite again, with the BFF answering through bff.handleNode(req, res) (node:http in and out, no
// Web Request or Response) instead of handle() behind a Node ⇄ Web adapter: every rule of the proxy (token
// types, path escapes, methods, CSRF and Origin, header hygiene, streaming with flat memory, SSE, the 401
// retry, 502/503/504, 3 instances on Redis) holds for both front ends. handleNode's own cases:
// bff-node.test.mjs.
process.env.NFT_BFF_FRONT = 'node';
await import('./bff-proxy.test.mjs');
