/*
 * Public API of ngx-fresh-token/testing: helpers for testing apps that use ngx-fresh-token.
 */
export { ManualClock, flushMicrotasks } from './manual-clock';
export { FreshTokenTestingController, provideFreshTokenTesting } from './testing-controller';
export { createTestJwt } from './test-jwt';
export type { TestJwtOptions } from './test-jwt';
