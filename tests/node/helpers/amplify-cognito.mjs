// Test harness: a real cognito-local (child process, temp working dir, 127.0.0.1, random port)
// with a user pool whose tokens live seconds and one confirmed user, behind a loopback proxy
// that adds GetTokensFromRefreshToken (aws-amplify >= 6.15.4 refreshes with it; cognito-local
// 5.3.0 lacks it) by calling InitiateAuth REFRESH_TOKEN_AUTH. The proxy counts refreshes.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AdminCreateUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
} from '@aws-sdk/client-cognito-identity-provider';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = join(root, 'node_modules', 'cognito-local', 'lib', 'bin', 'start.js');

function waitForUrl(child, timeoutMs) {
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`cognito-local did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (chunk) => {
      out += chunk.toString();
      // eslint-disable-next-line no-control-regex
      const m = out.replace(/\x1b\[[0-9;]*m/g, '').match(/running on (http:\/\/[\d.]+:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`cognito-local exited with ${code}:\n${out}`)));
  });
}

/** cognito-local answers every origin (cors `*`); the proxy's own GetTokensFromRefreshToken answers do too, so a page (the demo) can refresh. */
const CORS = { 'access-control-allow-origin': '*' };

function readBody(req) {
  return new Promise((resolvePromise, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolvePromise(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Starts cognito-local and the proxy; returns the proxy endpoint (for Amplify's
 * `userPoolEndpoint`), pool ids, the user's credentials, the JWKS URL and counters.
 */
export async function startCognito({ accessTokenSeconds = 20, idTokenSeconds = accessTokenSeconds } = {}) {
  const cwd = await mkdtemp(join(tmpdir(), 'nft-cognito-'));
  const child = spawn(process.execPath, [bin], {
    cwd,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let upstream;
  try {
    upstream = await waitForUrl(child, 20_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const admin = new CognitoIdentityProviderClient({
    endpoint: upstream,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const { UserPool } = await admin.send(new CreateUserPoolCommand({ PoolName: 'nft-test' }));
  const userPoolId = UserPool.Id;
  const { UserPoolClient } = await admin.send(
    new CreateUserPoolClientCommand({
      UserPoolId: userPoolId,
      ClientName: 'nft-web',
      AccessTokenValidity: accessTokenSeconds,
      IdTokenValidity: idTokenSeconds,
      RefreshTokenValidity: 1,
      TokenValidityUnits: { AccessToken: 'seconds', IdToken: 'seconds', RefreshToken: 'days' },
      ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
    }),
  );
  const clientId = UserPoolClient.ClientId;
  const username = 'alice@example.com';
  const password = 'Passw0rd!long';
  await admin.send(new AdminCreateUserCommand({ UserPoolId: userPoolId, Username: username, MessageAction: 'SUPPRESS' }));
  await admin.send(new AdminSetUserPasswordCommand({ UserPoolId: userPoolId, Username: username, Password: password, Permanent: true }));

  const stats = { refreshes: 0, failRefreshes: false };
  const proxy = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const target = String(req.headers['x-amz-target'] ?? '');
      if (target.endsWith('.GetTokensFromRefreshToken')) {
        stats.refreshes++;
        if (stats.failRefreshes) {
          // What Cognito answers for a revoked or expired refresh token.
          res.writeHead(400, { ...CORS, 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'NotAuthorizedException' });
          res.end(JSON.stringify({ __type: 'NotAuthorizedException', message: 'Refresh Token has been revoked' }));
          return;
        }
        const input = JSON.parse(body.toString('utf8'));
        const answer = await fetch(upstream, {
          method: 'POST',
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSCognitoIdentityProviderService.InitiateAuth' },
          body: JSON.stringify({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: input.ClientId, AuthParameters: { REFRESH_TOKEN: input.RefreshToken } }),
        });
        const text = await answer.text();
        const headers = { ...CORS, 'content-type': 'application/x-amz-json-1.1' };
        const errType = answer.headers.get('x-amzn-errortype');
        if (errType) headers['x-amzn-errortype'] = errType;
        res.writeHead(answer.status, headers);
        res.end(text);
        return;
      }
      const answer = await fetch(upstream + req.url, {
        method: req.method,
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))),
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
      });
      const headers = {};
      answer.headers.forEach((v, k) => {
        if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) headers[k] = v;
      });
      res.writeHead(answer.status, headers);
      res.end(Buffer.from(await answer.arrayBuffer()));
    } catch (err) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    }
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${proxy.address().port}`;

  return {
    endpoint,
    upstream,
    userPoolId,
    clientId,
    username,
    password,
    jwksUrl: `${upstream}/${userPoolId}/.well-known/jwks.json`,
    stats,
    /** Amplify resources config for this pool. */
    amplifyAuthConfig() {
      return { Cognito: { userPoolId, userPoolClientId: clientId, userPoolEndpoint: endpoint } };
    },
    async stop() {
      admin.destroy();
      proxy.closeAllConnections?.();
      await new Promise((r) => proxy.close(r));
      await new Promise((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', r);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
      });
      await rm(cwd, { recursive: true, force: true });
    },
  };
}
