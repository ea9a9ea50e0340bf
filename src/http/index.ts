/**
 * The HTTP layer's public surface: the management API, Prometheus metrics and the web console, started by
 * the broker's wiring (src/broker/server.ts). It reads and acts through the runtime, logs in through
 * security, and reaches AMQP connections only through the AMQP layer's public surface.
 */
export { BrokerMetrics } from './metrics';
export { startHttpServer, type HttpServer, type HttpServices } from './http-server';
export type { ConnectionDirectory, ConsumerEntry, QueueEntry } from './api';
