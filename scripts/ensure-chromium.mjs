// `npm test` finds the Chromium that Karma and Playwright launch (scripts/chromium.cjs reads
// CHROME_BIN): CHROME_BIN, else the usual install paths; where none exists and this machine can
// install Debian's package (root, apt-get, Debian), it does so; else it stops at once with the
// exact command to run. Nothing here, or anywhere in the tests, downloads a browser of its own.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** The usual install paths, in the order they are tried after CHROME_BIN. */
export const CHROMIUM_PATHS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

export const APT_INSTALL_COMMAND = 'apt-get update && apt-get install -y chromium';

/** True when /etc/os-release names Debian or a derivative whose archive has the `chromium` package (not Ubuntu: a snap shim there). */
export function isDebianOsRelease(text) {
  const field = (name) => (new RegExp(`^${name}="?([^"\\n]*)"?`, 'm').exec(text || '') || [])[1] || '';
  const ids = `${field('ID')} ${field('ID_LIKE')}`.split(/\s+/);
  return ids.includes('debian') && !ids.includes('ubuntu');
}

/**
 * Decides, from facts only, which browser `npm test` uses: `use` (a path), `install` (Debian's
 * chromium with apt-get, then /usr/bin/chromium) or `stop` (a message with the exact command).
 */
export function planChromium({ chromeBin, exists, isRoot, hasAptGet, isDebian }) {
  if (chromeBin) {
    if (exists(chromeBin)) return { action: 'use', path: chromeBin };
    return { action: 'stop', message: `CHROME_BIN is ${chromeBin}, which does not exist: point it at a Chromium or Chrome binary, or unset it.` };
  }
  const found = CHROMIUM_PATHS.find((p) => exists(p));
  if (found) return { action: 'use', path: found };
  if (isDebian && hasAptGet && isRoot) return { action: 'install', path: '/usr/bin/chromium' };
  const command = isDebian && hasAptGet ? `sudo sh -c '${APT_INSTALL_COMMAND}'` : 'CHROME_BIN=/path/to/chromium npm test';
  return {
    action: 'stop',
    message: `No Chromium found (CHROME_BIN unset; none of ${CHROMIUM_PATHS.join(', ')}). Run: ${command}`,
  };
}

/** Finds (or installs) Chromium and exports CHROME_BIN; exits at once with the command to run when it cannot. */
export function ensureChromium() {
  const plan = planChromium({
    chromeBin: process.env.CHROME_BIN,
    exists: existsSync,
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    hasAptGet: existsSync('/usr/bin/apt-get'),
    isDebian: existsSync('/etc/os-release') && isDebianOsRelease(readFileSync('/etc/os-release', 'utf8')),
  });
  if (plan.action === 'stop') {
    console.error(plan.message);
    process.exit(1);
  }
  if (plan.action === 'install') {
    console.log("No Chromium found; installing Debian's chromium package with apt-get (once)…");
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update', '-qq'], ['install', '-y', '-qq', 'chromium']]) {
      const res = spawnSync('apt-get', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env });
      if (res.status !== 0) {
        process.stderr.write(`${res.stdout || ''}${res.stderr || ''}`);
        console.error(`apt-get ${args.join(' ')} failed; run: ${APT_INSTALL_COMMAND}`);
        process.exit(1);
      }
    }
    if (!existsSync(plan.path)) {
      console.error(`apt-get installed chromium but ${plan.path} is missing; set CHROME_BIN to its binary.`);
      process.exit(1);
    }
  }
  process.env.CHROME_BIN = plan.path;
  return plan.path;
}
