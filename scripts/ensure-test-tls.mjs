// A throwaway certificate authority and one server certificate for 127.0.0.1 / localhost, made with
// the machine's `openssl` for the test run, so the BFF tests talk to the real oidc-provider over HTTPS
// (openid-client then runs exactly as in production: no allowInsecureRequests, no http issuer).
// `npm test` calls ensureTestTls() once and passes NODE_EXTRA_CA_CERTS (the CA) plus NFT_TEST_TLS_CERT
// and NFT_TEST_TLS_KEY (the server's pair) to the node and e2e stages. Nothing here is a secret of the
// project: the keys are made per run, live in test-results/tls (git-ignored) and sign nothing else.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Runs openssl with `args` in `dir`; throws with its stderr on failure. */
function openssl(dir, args) {
  const res = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (res.error) throw new Error(`openssl is needed for the HTTPS test IdP and was not found (${res.error.message}). Install it (Debian: apt-get install -y openssl).`);
  if (res.status !== 0) throw new Error(`openssl ${args[0]} failed: ${res.stderr}`);
}

/**
 * Makes (once per directory) a CA and a server certificate for 127.0.0.1, ::1 and localhost, valid for
 * two days. Returns `{ ca, cert, key }` file paths and the environment a test process needs.
 */
export function ensureTestTls(dir) {
  const paths = { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server-key.pem') };
  if (!(existsSync(paths.ca) && existsSync(paths.cert) && existsSync(paths.key))) {
    mkdirSync(dir, { recursive: true });
    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ngx-fresh-token test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
    writeFileSync(join(dir, 'server.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n');
    openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
  }
  // NODE_EXTRA_CA_CERTS names one file: a machine that already trusts extra CAs through it (a registry behind a TLS
  // proxy) keeps them, in a bundle with the test CA, or every npm install a test runs fails on the proxy's certificate.
  let extraCa = paths.ca;
  const inherited = process.env.NODE_EXTRA_CA_CERTS;
  const bundle = join(dir, 'ca-bundle.pem');
  if (inherited === bundle) {
    extraCa = bundle; // made by an earlier call (`eval "$(node scripts/ensure-test-tls.mjs)"` twice)
  } else if (inherited && inherited !== paths.ca && existsSync(inherited)) {
    extraCa = bundle;
    writeFileSync(extraCa, `${readFileSync(inherited, 'utf8').replace(/\n?$/, '\n')}${readFileSync(paths.ca, 'utf8')}`);
  }
  return { ...paths, env: { NODE_EXTRA_CA_CERTS: extraCa, NFT_TEST_TLS_CERT: paths.cert, NFT_TEST_TLS_KEY: paths.key } };
}

// `node scripts/ensure-test-tls.mjs [dir]` prints the environment as shell exports, for running one
// test file by hand: eval "$(node scripts/ensure-test-tls.mjs)" && node --test tests/node/bff-idp-faults.test.mjs
if (import.meta.url === `file://${process.argv[1]}`) {
  const { env } = ensureTestTls(process.argv[2] ?? join(process.cwd(), 'test-results', 'tls'));
  for (const [name, value] of Object.entries(env)) console.log(`export ${name}='${value}'`);
}
