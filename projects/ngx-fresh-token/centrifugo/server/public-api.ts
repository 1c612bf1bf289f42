/*
 * Public API of ngx-fresh-token/centrifugo/server: Centrifugo proxy-connect and proxy-refresh
 * handlers for a Node (or any Web-standard) backend. Kept apart from the browser entry.
 */
export {
  CENTRIFUGO_PROXY_CODES,
  CentrifugoProxyUnavailableError,
  answerCentrifugoConnect,
  answerCentrifugoRefresh,
  bearerToken,
  centrifugoConnectHandler,
  centrifugoRefreshHandler,
  classifyTokenError,
} from './proxy-handlers';
export type {
  CentrifugoConnectReply,
  CentrifugoConnectResultExtras,
  CentrifugoProxyOptions,
  CentrifugoRefreshReply,
  CentrifugoTokenClaims,
  CentrifugoTokenProblem,
} from './proxy-handlers';
