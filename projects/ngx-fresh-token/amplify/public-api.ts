/*
 * Public API of ngx-fresh-token/amplify: Cognito tokens through Amplify, GraphQL headers and
 * retry on 401, an Amplify TokenProvider backed by AuthService, AppSync Events with fresh tokens.
 * The only entry importing aws-amplify (an optional peer dependency).
 */
export { AmplifyFreshToken, provideAmplifyFreshToken } from './amplify-fresh-token';
export type { AmplifyFreshTokenOptions, AmplifyLibraryOptions } from './amplify-fresh-token';
export { createAmplifyTokenSource, withAmplifyTokenSource } from './amplify-token-source';
export type { AmplifyTokenSourceOptions } from './amplify-token-source';
export { AmplifyFreshTokenErrorCode } from './errors';
export { connectFreshEvents } from './events-connection';
export type { FreshEventsAuthMode, FreshEventsOptions } from './events-connection';
export { eventsRealtimeUrl } from './events-protocol';
export { publishFreshEvents } from './events-publish';
export { createGraphqlHeaders } from './graphql-headers';
export type { GraphqlHeadersOptions } from './graphql-headers';
export { graphqlWithRetry, isGraphqlUnauthorized } from './graphql-retry';
export { createFreshTokenProvider } from './token-provider';
export type { FreshTokenProviderOptions } from './token-provider';
