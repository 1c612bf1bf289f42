import type { ResourcesConfig } from 'aws-amplify';

/** What the dev backend answers on `GET /amplify/config` in Amplify mode (public ids and URLs, no secrets). */
export interface AmplifyDemoConfig {
  enabled: true;
  userPoolId: string;
  userPoolClientId: string;
  userPoolEndpoint: string;
  graphqlEndpoint: string;
  eventsEndpoint: string;
  region: string;
}

/** The result of asking the backend for the Amplify configuration. */
export type AmplifyConfigResult = { ok: true; config: AmplifyDemoConfig } | { ok: false; message: string };

/**
 * Amplify's resources config for this route. The endpoints are only known at run time (the
 * backend starts cognito-local and the loopback AppSync on free ports), so the route's
 * `provideAmplifyFreshToken()` gets this object, which the page fills in the browser (never on
 * the server) before it calls `AmplifyFreshToken.configure()`.
 */
export const AMPLIFY_RESOURCES: ResourcesConfig = {};

/** Fills {@link AMPLIFY_RESOURCES} from the backend's answer. */
export function applyAmplifyConfig(config: AmplifyDemoConfig): void {
  const { userPoolId, userPoolClientId, userPoolEndpoint, graphqlEndpoint, eventsEndpoint, region } = config;
  AMPLIFY_RESOURCES.Auth = { Cognito: { userPoolId, userPoolClientId, userPoolEndpoint } };
  AMPLIFY_RESOURCES.API = {
    GraphQL: { endpoint: graphqlEndpoint, region, defaultAuthMode: 'userPool' },
    Events: { endpoint: eventsEndpoint, region, defaultAuthMode: 'userPool' },
  };
}

/** Asks the dev backend for the Amplify configuration (browser only). */
export async function loadAmplifyConfig(): Promise<AmplifyConfigResult> {
  try {
    // Without Amplify mode the backend answers 200 { enabled: false, message }.
    const res = await fetch('/amplify/config', { cache: 'no-store' });
    const body = await res.json().catch(() => null);
    if (res.ok && body?.enabled && body.userPoolId) return { ok: true, config: body as AmplifyDemoConfig };
    return { ok: false, message: body?.message ?? `Amplify mode is off (HTTP ${res.status}): start the demo with npm run demo:amplify` };
  } catch {
    return { ok: false, message: 'The dev backend did not answer: start the demo with npm run demo:amplify' };
  }
}
