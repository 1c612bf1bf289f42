// An entry script in miniature for tests/node/ensure-node.test.mjs: `await ensureNode()` first,
// as scripts/start.mjs, test.mjs and demo-amplify.mjs do, then reports how it ran as one JSON line.
// `--wait` waits for SIGTERM (then exits 5); `--exit=N` exits with N.
import { ensureNode } from '../../../scripts/ensure-node.mjs';

await ensureNode();

const args = process.argv.slice(2);
const report = () =>
  console.log(JSON.stringify({ ran: 'directly', version: process.version, args, path0: (process.env.PATH || '').split(':')[0], handedOver: process.env.NFT_NODE_HANDED_OVER ?? null }));
if (args.includes('--wait')) {
  process.on('SIGTERM', () => {
    console.log('child got SIGTERM');
    process.exit(5);
  });
  report();
  setInterval(() => {}, 1000);
} else {
  report();
  const exit = args.find((a) => a.startsWith('--exit='));
  process.exit(exit ? Number(exit.slice(7)) : 0);
}
