/*
 * Public API of ngx-fresh-token/centrifugo: fresh tokens for Centrifugo connections and
 * subscriptions (the only entry that imports `centrifuge`, an optional peer dependency).
 */
export { centrifugoGetToken } from './connection-token';
export type { CentrifugoConnectionGetToken } from './connection-token';
export { CentrifugoErrorCode } from './errors';
export { centrifugoHeaderMode } from './header-mode';
export type { CentrifugoHeaderMode, CentrifugoHeaderModeOptions } from './header-mode';
export { centrifugoSubscriptionGetToken } from './subscription-token';
export type {
  CentrifugoSubscriptionGetToken,
  CentrifugoSubscriptionTokenFetcher,
  CentrifugoSubscriptionTokenRequest,
} from './subscription-token';
