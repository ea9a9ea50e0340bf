/**
 * The AMQP layer's public surface: what the broker's wiring (src/broker/server.ts) and the CLI may use.
 * Everything else in src/amqp, rhea above all, stays inside (test/architecture.test.ts checks it).
 */
export { startAmqpServer, type AmqpSecurity, type AmqpServer } from './server';
export { AdminError, fetchAdminSnapshot, type AdminTarget } from './admin-client';
export type { QueuesSnapshot } from './admin-link';
export type { ConnectionReport, ConsumerLinkReport, ProducerLinkReport } from './connection-reports';
export { compileStoredSelector } from './message-filter';
