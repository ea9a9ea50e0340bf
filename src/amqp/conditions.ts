/** AMQP 1.0 error conditions (2.8.15, 2.8.16, 2.8.17, 2.8.18) used by the broker. */
export const Condition = {
  internalError: 'amqp:internal-error',
  notFound: 'amqp:not-found',
  decodeError: 'amqp:decode-error',
  invalidField: 'amqp:invalid-field',
  illegalState: 'amqp:illegal-state',
  notImplemented: 'amqp:not-implemented',
  resourceLimitExceeded: 'amqp:resource-limit-exceeded',
  unauthorizedAccess: 'amqp:unauthorized-access',
  preconditionFailed: 'amqp:precondition-failed',
  connectionForced: 'amqp:connection:forced',
  framingError: 'amqp:connection:framing-error',
  unattachedHandle: 'amqp:session:unattached-handle',
  handleInUse: 'amqp:session:handle-in-use',
  windowViolation: 'amqp:session:window-violation',
  transferLimitExceeded: 'amqp:link:transfer-limit-exceeded',
  messageSizeExceeded: 'amqp:link:message-size-exceeded',
  /** 2.8.18: the link's node is served elsewhere (a cluster node that is not the queue's home). */
  redirect: 'amqp:link:redirect',
  /** 2.8.18: the broker ended the link (a cluster node gave up waiting for a client to settle). */
  detachForced: 'amqp:link:detach-forced',
  resourceLocked: 'amqp:resource-locked',
  resourceDeleted: 'amqp:resource-deleted',
  notAllowed: 'amqp:not-allowed',
} as const;

export interface AmqpError {
  readonly condition: string;
  readonly description: string;
}

/**
 * A peer broke the protocol in a way that ends its whole connection: thrown where a frame is handled,
 * the connection is closed with this error (AMQP 1.0 2.7.9 close).
 */
export class ConnectionViolation extends Error {
  constructor(readonly amqpError: AmqpError) {
    super(amqpError.description);
  }
}
