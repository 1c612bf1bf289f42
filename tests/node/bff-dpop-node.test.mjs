// The DPoP suite again, with the BFF answering through bff.handleNode(req, res) (see bff-proxy-node.test.mjs):
// proofs, nonces and bound tokens on proxied calls hold for the Node front end too.
process.env.NFT_BFF_FRONT = 'node';
await import('./bff-dpop.test.mjs');
