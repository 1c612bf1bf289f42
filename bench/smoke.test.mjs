// Smoke test of the benchmark harness (not part of `npm test`: it installs the peers into
// bench/node_modules when missing and takes about half a minute). Asserts what the run must
// produce, never a timing:
//   node --test bench/smoke.test.mjs          (after `npm run build`)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { test } from 'node:test';

const here = dirname(fileURLToPath(import.meta.url));
const PEERS = ['@auth0/angular-jwt', 'angular-oauth2-oidc', 'keycloak-angular', 'angular-auth-oidc-client'];

test('node bench/run.mjs --quick measures every library and writes one result file', { timeout: 300_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nft-bench-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'results.json');
  const res = spawnSync(process.execPath, [join(here, 'run.mjs'), '--quick', `--json=${out}`], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr.slice(-3000));
  const r = JSON.parse(readFileSync(out, 'utf8'));

  // One table, every library a column, the machine named.
  assert.match(res.stdout, /\| Measure \| ngx-fresh-token \| @auth0\/angular-jwt \| angular-oauth2-oidc \| keycloak-angular \| angular-auth-oidc-client \|/);
  assert.ok(r.machine.cpu && r.machine.cores > 0 && r.machine.node);
  assert.deepEqual(r.errors, []);

  // Sizes: every entry of the package (from its exports) and every peer.
  const entries = r.sizes.entries.map((e) => e.entry);
  for (const e of ['ngx-fresh-token', 'ngx-fresh-token (typical app)', 'jwt-decode', 'ngx-fresh-token/testing', 'ngx-fresh-token/oauth', 'ngx-fresh-token/amplify', 'ngx-fresh-token/centrifugo', 'ngx-fresh-token/centrifugo/server', 'ngx-fresh-token/internal']) {
    assert.ok(entries.includes(e), `size of ${e}`);
  }
  assert.deepEqual(r.sizes.peers.map((p) => p.peer).sort(), [...PEERS, 'keycloak-js'].sort());
  for (const row of [...r.sizes.entries, ...r.sizes.peers]) assert.ok(row.gzipBytes > 0 && row.gzipBytes < row.minBytes, row.label);

  // Tokens per API (#25): 1 token + 1 rule and 3 tokens + 20 rules side by side, each with a ratio.
  for (const name of ['1 token, 1 rule', '3 tokens, 20 rules', '3 tokens, 20 rules, spread']) {
    const row = r.apiTokens.rows.find((x) => x.name === name);
    for (const set of ['oneUrl', 'thousandUrls']) assert.equal(typeof row?.[set]?.addedNs, 'number', `${name} ${set}`);
    if (name !== '1 token, 1 rule') assert.equal(typeof row.oneUrl.ratioToSingle, 'number');
  }
  assert.ok(r.sizes.entries.some((e) => e.entry === 'ngx-fresh-token (typical app + one withApiToken)' && e.gzipBytes > 0));

  // Per request: every library measured, attaching the token (checked by the harness), ratios present.
  for (const name of ['ngx-fresh-token', ...PEERS]) {
    const row = r.overhead.rows.find((x) => x.name === name);
    assert.ok(row && !row.error, `${name}: ${row?.error}`);
    assert.equal(typeof row.oneUrl.ratioToFastestPeer, 'number');
    assert.equal(typeof row.thousandUrls.ratioToFastestPeer, 'number');
  }
  const nft = r.overhead.rows.find((x) => x.name === 'ngx-fresh-token');
  assert.equal(nft.synchronous, true, 'the fresh path completes synchronously (no promise)');
  // The floors (#24): measured, attaching the token, and every row has its ratio to both.
  for (const name of ['floor', 'floor without catchError']) {
    const row = r.overhead.rows.find((x) => x.name === name);
    assert.ok(row && !row.error, `${name}: ${row?.error}`);
  }
  for (const set of ['oneUrl', 'thousandUrls']) {
    assert.equal(typeof nft[set].ratioToFloors.floor, 'number');
    assert.equal(typeof nft[set].ratioToFloors['floor without catchError'], 'number');
  }
  assert.match(res.stdout, /× the floor \(clone \+ set header \+ one catchError\)/);
  assert.equal(nft.counterDeltas.sourceCalls, 0, 'no source call with a fresh token');

  // Storms: exactly one source call for ngx-fresh-token, every request answered 200.
  const storms = r.storms.rows.find((x) => x.name === 'ngx-fresh-token');
  for (const kind of ['expired', 'unauthorized', 'direct']) {
    assert.equal(storms[kind].sourceCalls, 1, `${kind}: source calls`);
    assert.equal(storms[kind].tokenEndpointCalls, 1, `${kind}: token endpoint calls`);
  }
  assert.deepEqual(storms.expired.appSaw, { 200: r.storms.requests });
  assert.deepEqual(storms.unauthorized.appSaw, { 200: r.storms.requests });
  for (const name of PEERS) {
    const row = r.storms.rows.find((x) => x.name === name);
    for (const kind of ['expired', 'unauthorized']) assert.ok(row[kind] && !row[kind].error, `${name} ${kind}: ${row[kind]?.error}`);
  }

  // The refresh-wait storm is in the same results.
  assert.equal(r.refreshWait.results.length, 2);
  for (const w of r.refreshWait.results) assert.equal(w.sourceCalls, 1);
});
