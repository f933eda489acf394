/** The HTTP API and dashboard of rekey (docs/api.md). */
export { createServer, DEFAULT_HOST, DEFAULT_PORT, type RekeyServer, type ServerOptions } from './server.js';
export { startDashboard, SAMPLE_FLEET_FILE, type StartDashboardOptions } from './startDashboard.js';
export { CREDENTIALS_REQUIRE_LOOPBACK, REQUEST_INVALID, RESOURCE_NOT_FOUND, SUBSCRIPTION_NOT_FOUND } from './errors.js';
export type { WebhookOptions } from './webhooks.js';
