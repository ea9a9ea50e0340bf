/** AMQP 1.0 error conditions (2.8.15, 2.8.16, 2.8.17, 2.8.18) used by the broker. */
export const Condition = {
  internalError: 'amqp:internal-error',
  notFound: 'amqp:not-found',
  decodeError: 'amqp:decode-error',
  invalidField: 'amqp:invalid-field',
  notImplemented: 'amqp:not-implemented',
  resourceLimitExceeded: 'amqp:resource-limit-exceeded',
  unauthorizedAccess: 'amqp:unauthorized-access',
  preconditionFailed: 'amqp:precondition-failed',
  connectionForced: 'amqp:connection:forced',
  framingError: 'amqp:connection:framing-error',
  messageSizeExceeded: 'amqp:link:message-size-exceeded',
  /** 2.8.18: the link's node is served elsewhere (a cluster node that is not the queue's home). */
  redirect: 'amqp:link:redirect',
  /** 2.8.18: the broker ended the link (a cluster node gave up waiting for a client to settle). */
  detachForced: 'amqp:link:detach-forced',
} as const;

export interface AmqpError {
  readonly condition: string;
  readonly description: string;
}
