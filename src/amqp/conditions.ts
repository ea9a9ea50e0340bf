/** AMQP 1.0 error conditions (2.8.15, 2.8.16, 2.8.17, 2.8.18) used by the broker. */
export const Condition = {
  internalError: 'amqp:internal-error',
  notFound: 'amqp:not-found',
  decodeError: 'amqp:decode-error',
  invalidField: 'amqp:invalid-field',
  notImplemented: 'amqp:not-implemented',
  resourceLimitExceeded: 'amqp:resource-limit-exceeded',
  resourceDeleted: 'amqp:resource-deleted',
  unauthorizedAccess: 'amqp:unauthorized-access',
  connectionForced: 'amqp:connection:forced',
  framingError: 'amqp:connection:framing-error',
  messageSizeExceeded: 'amqp:link:message-size-exceeded',
} as const;

export interface AmqpError {
  readonly condition: string;
  readonly description: string;
}
