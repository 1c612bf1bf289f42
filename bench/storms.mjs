#!/usr/bin/env node
// Storms, for ngx-fresh-token and each peer, over real HTTP (withFetch) to a loopback server
// (bench/lib/token-server.mjs: token endpoint answering after 100 ms, API answering 401 for a
// missing, expired or revoked token):
//   expired: 1 000 concurrent requests while the library holds an expired token;
//   401:     1 000 concurrent requests with a token the API has revoked (each answers 401);
//   direct:  1 000 concurrent calls of the library's own refresh API where it has one
//            (ngx-fresh-token getValidToken(), keycloak-js updateToken(), angular-oauth2-oidc refreshToken(),
//            angular-auth-oidc-client forceRefreshSession()).
// Counts what reached the server: token endpoint calls, API answers by outcome.
//   node bench/storms.mjs [--json=out.json]       (after `npm run build`)
import '@angular/compiler';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { firstValueFrom } from 'rxjs';
import { LIBRARIES } from './lib/libraries.mjs';
import { makeJwt, startTokenServer } from './lib/token-server.mjs';

const REQUESTS = Number(process.env.STORM_N ?? 1_000);
const TOKEN_LATENCY_MS = 100;
const jsonArg = process.argv.find((a) => a.startsWith('--json='));
const log = (...args) => console.error(...args);
const server = await startTokenServer({ tokenLatencyMs: TOKEN_LATENCY_MS });

/** Fires `n` concurrent GETs and waits for every one to end; returns what the app saw. */
function fire(http, url, n) {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve) =>
          http.get(url).subscribe({ next: () => resolve(200), error: (err) => resolve(err?.status ?? 'error') }),
        ),
    ),
  ).then((statuses) => {
    const seen = {};
    for (const s of statuses) seen[s] = (seen[s] ?? 0) + 1;
    return seen;
  });
}

/**
 * Sets a library up holding a fresh token, or one that will have expired by the time the storm
 * starts: every library gets a 1 s token (as a sign-in would hand it over, `iat` = now) and the
 * storms wait until it has expired — the token of a tab that slept, say. (A token that is already
 * stale on arrival is another case: ngx-fresh-token takes that for clock skew, by design.)
 */
async function setupHolding(lib, kind) {
  const lifetimeSec = kind === 'expired' ? 1 : 3600;
  try {
    if (lib.name === 'keycloak-angular') {
      // keycloak-js always refreshes in init() when given a token: the server issues the 1 s token there.
      server.setLifetime(lifetimeSec);
      const s = await lib.setup({ api: server.api, server, token: makeJwt({ lifetimeSec }) });
      server.setLifetime(3600);
      return { ...s, token: s.keycloak.token, expiresAt: s.keycloak.tokenParsed.exp * 1000 };
    }
    const token = makeJwt({ lifetimeSec });
    return { ...(await lib.setup({ api: server.api, server, token })), token, expiresAt: Date.now() + lifetimeSec * 1000 };
  } catch (err) {
    return { error: `setup failed: ${err?.message ?? err}` };
  }
}

async function measure(s, run) {
  if (s.error) return { error: s.error };
  try {
    // Open (and keep alive) as many connections as the storm will use, so that no library pays
    // for connection setup that another one does not.
    await Promise.all(Array.from({ length: REQUESTS }, () => fetch(`${server.origin}/warm-up`).then((r) => r.arrayBuffer())));
    server.reset();
    const before = { ...s.counters };
    const started = performance.now();
    const appSaw = await run(s);
    const ms = Math.round(performance.now() - started);
    await sleep(TOKEN_LATENCY_MS * 3); // a background refresh still running is counted too
    const row = { tokenEndpointCalls: server.stats.tokenCalls, appSaw, api: { ...server.stats.api }, ms };
    for (const [k, v] of Object.entries(s.counters)) row[k] = v - before[k];
    return row;
  } catch (err) {
    return { error: String(err?.message ?? err) };
  } finally {
    s.injector.destroy();
  }
}

const notes = {
  'ngx-fresh-token': {},
  '@auth0/angular-jwt': {
    expired: 'No refresh: the interceptor sends whatever tokenGetter returns, calling it once per request.',
    unauthorized: 'No 401 handling: every 401 reaches the app.',
    direct: 'No refresh API (tokens come from the app).',
  },
  'angular-oauth2-oidc': {
    expired: 'The interceptor never refreshes: it sends the stored token (expired or not). Refresh is a timer (setupAutomaticSilentRefresh) or the app calling refreshToken().',
    unauthorized: 'No 401 handling: every 401 reaches the app (through OAuthResourceServerErrorHandler).',
    direct: 'The app calling refreshToken() concurrently (from its own expiry or 401 handling, say).',
  },
  'keycloak-angular': {
    expired: 'The interceptor calls keycloak-js updateToken() (min validity 5 s) before each request.',
    unauthorized: 'No 401 handling: every 401 reaches the app.',
    direct: 'updateToken() on an expired token, called concurrently.',
  },
  'angular-auth-oidc-client': {
    expired: 'The interceptor never refreshes: it sends the stored token (expired or not). Refresh runs on the silent-renew timer.',
    unauthorized: 'No 401 handling: every 401 reaches the app.',
    direct:
      'forceRefreshSession() with refresh tokens on an expired token, called concurrently. Driven with disableIdTokenValidation (the loopback tokens are unsigned) and a stub DOM renderer (OidcSecurityService needs RendererFactory2 for its iframe listeners).',
  },
};

const DIRECT = {
  'ngx-fresh-token': ['getValidToken()', (s) => s.auth.getValidToken()],
  'keycloak-angular': ['updateToken()', (s) => s.keycloak.updateToken()],
  'angular-oauth2-oidc': ['refreshToken()', (s) => s.oauth.refreshToken()],
  'angular-auth-oidc-client': ['forceRefreshSession()', (s) => firstValueFrom(s.oidc().forceRefreshSession())],
};
const url = `${server.api}/items`;
// Set everything up first, then wait once for the 1 s tokens to expire.
const prepared = [];
for (const lib of LIBRARIES) {
  prepared.push({
    lib,
    expired: await setupHolding(lib, 'expired'),
    fresh: await setupHolding(lib, 'fresh'),
    direct: DIRECT[lib.name] ? await setupHolding(lib, 'expired') : null,
  });
}
const lastExpiry = Math.max(...prepared.flatMap((p) => [p.expired.expiresAt ?? 0, p.direct?.expiresAt ?? 0]));
await sleep(Math.max(0, lastExpiry - Date.now()) + 200);

const rows = [];
for (const { lib, expired, fresh, direct } of prepared) {
  log(`  storms: ${lib.name}`);
  const row = { name: lib.name, label: lib.label, notes: notes[lib.name] };
  row.expired = await measure(expired, (s) => fire(s.http, url, REQUESTS));
  row.unauthorized = await measure(fresh, (s) => {
    server.revoke(s.token);
    return fire(s.http, url, REQUESTS);
  });
  if (direct) {
    const [call, fn] = DIRECT[lib.name];
    row.direct = {
      call,
      ...(await measure(direct, async (s) => {
        const results = await Promise.allSettled(Array.from({ length: REQUESTS }, () => fn(s)));
        return { fulfilled: results.filter((r) => r.status === 'fulfilled').length, rejected: results.filter((r) => r.status === 'rejected').length };
      })),
    };
  }
  rows.push(row);
}
server.close();
const result = { requests: REQUESTS, tokenEndpointLatencyMs: TOKEN_LATENCY_MS, rows };
if (jsonArg) writeFileSync(jsonArg.slice(7), `${JSON.stringify(result, null, 2)}\n`);
else console.log(JSON.stringify(result, null, 2));
process.exit(0);
