// Smoke test of `npm run bench:bff` (not part of `npm test`: it starts Redis, an IdP and four BFF
// processes; about 15 s). Runs the quick variant and asserts what the run must produce, never a timing:
//   node --test bench/bff.smoke.test.mjs          (after `npm run build`)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

test('node bench/bff.mjs --quick measures three set-ups, the round trips and two storms, and writes one result file', { timeout: 120_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nft-bench-bff-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'bff-results.json');
  const res = spawnSync(process.execPath, [join(here, 'bff.mjs'), '--quick', `--json=${out}`], { encoding: 'utf8', env: { ...process.env, REDIS_URL: '' } });
  assert.equal(res.status, 0, res.stderr.slice(-3000));
  const r = JSON.parse(readFileSync(out, 'utf8'));
  assert.deepEqual(r.errors, []);
  assert.ok(r.machine.cpu && r.machine.cores > 0 && r.machine.redis);
  assert.match(res.stdout, /\| \/session\/token, cached token, \d+ concurrent sessions \| processes \| req\/s \| p50 ms \| p99 ms \|/);
  assert.deepEqual(r.cached.map((c) => [c.label, c.instances]), [['memory', 1], ['redis', 1], ['redis, 3 instances', 3]]);
  for (const c of r.cached) {
    assert.ok(c.requests > 0 && c.throughputPerSec > 0 && c.p99Ms >= c.p50Ms, c.label);
    assert.deepEqual(Object.keys(c.statuses), ['200'], c.label);
    assert.equal(c.redemptions, 0, `${c.label}: a cached token redeems nothing`);
  }
  assert.equal(r.trips.perHit, 1, 'one Redis round trip per cached hit');
  for (const s of r.storms) {
    assert.equal(s.redemptions, s.sessions, `${s.label}: one redemption per session`);
    assert.equal(s.invalidGrant, 0);
    assert.equal(s.sessionsWithOneNewToken, s.sessions);
  }
});
