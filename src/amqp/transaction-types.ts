import { types as rheaTypes } from 'rhea';
import { TransactionError } from '../broker/transactions';
import { AmqpDecodeError } from './amqp-reader';
import { Condition, type AmqpError } from './conditions';
import { MalformedMessageError, bodyValueOffset } from './message-sections';
import { TRANSACTIONAL_STATE, rheaValueReader } from './rhea';

/**
 * The transaction types of AMQP 1.0 4.5, read from what clients send and built for what the broker
 * answers: the coordinator terminus (4.5.1), declare and discharge (4.5.2, 4.5.3), declared (4.5.5) and
 * transactional-state (4.5.6).
 */

/**
 * 4.5.7 txn-capability: what Convoy's coordinator does. Transactions belong to the connection, so one
 * session may run several (multi-txns-per-ssn) and one transaction may span sessions (multi-ssns-per-txn).
 * Distributed and promotable transactions are not offered.
 */
export const COORDINATOR_CAPABILITIES: readonly string[] = ['amqp:local-transactions', 'amqp:multi-txns-per-ssn', 'amqp:multi-ssns-per-txn'];

/** 4.5.8 transaction-error. */
export const TransactionCondition = {
  unknownId: 'amqp:transaction:unknown-id',
  rollback: 'amqp:transaction:rollback',
} as const;

const DECLARE = 0x31;
const DISCHARGE = 0x32;
const SYMBOLIC: Readonly<Record<string, number>> = { 'amqp:declare:list': DECLARE, 'amqp:discharge:list': DISCHARGE };

/** Encoders for the types the broker sends; `define_composite` builds rhea's own kind of described list. */
const coordinatorType = rheaTypes.define_composite({ name: 'coordinator', code: 0x30, fields: [{ name: 'capabilities', type: 'symbol', multiple: true }] });
const declaredType = rheaTypes.define_composite({ name: 'declared', code: 0x33, fields: [{ name: 'txn_id', type: 'binary', mandatory: true }] });
const transactionalStateType = rheaTypes.define_composite({
  name: 'transactional-state',
  code: TRANSACTIONAL_STATE,
  fields: [
    { name: 'txn_id', type: 'binary', mandatory: true },
    { name: 'outcome', type: '*' },
  ],
});

/** A message on the coordinator link (4.3, 4.4): the body is an amqp-value holding one of these. */
export type ControlMessage = { readonly type: 'declare'; readonly globalId: unknown } | { readonly type: 'discharge'; readonly txnId: unknown; readonly fail: boolean };

export class MalformedControlError extends Error {}

/** Reads a declare or discharge from a coordinator message's bytes; throws MalformedControlError. */
export function readControlMessage(bytes: Buffer): ControlMessage {
  let described: { descriptor?: { value?: unknown }; value?: unknown };
  try {
    const offset = bodyValueOffset(bytes);
    if (offset === null) throw new MalformedControlError('a coordinator message carries a declare or discharge as its amqp-value body (AMQP 1.0 4.3, 4.4)');
    described = rheaValueReader(bytes.subarray(offset)).read() as typeof described;
  } catch (error) {
    if (error instanceof MalformedMessageError || error instanceof AmqpDecodeError) throw new MalformedControlError(error.message);
    if (error instanceof MalformedControlError) throw error;
    throw new MalformedControlError(`cannot decode the coordinator message: ${(error as Error).message}`);
  }
  const code = descriptorCode(described?.descriptor?.value);
  const fields = Array.isArray(described?.value) ? (described.value as unknown[]).map((field) => rheaTypes.unwrap(field)) : null;
  if (fields === null || (code !== DECLARE && code !== DISCHARGE)) {
    throw new MalformedControlError('the body of a coordinator message must be a declare or a discharge (AMQP 1.0 4.5.2, 4.5.3)');
  }
  if (code === DECLARE) return { type: 'declare', globalId: fields[0] ?? null };
  const fail = fields[1] ?? false;
  if (typeof fail !== 'boolean') throw new MalformedControlError('the fail field of a discharge must be a boolean (AMQP 1.0 4.5.3)');
  return { type: 'discharge', txnId: fields[0] ?? null, fail };
}

/**
 * The error a refused transactional request is answered with. A refused commit says why it could not
 * commit (a limit, a precondition), never amqp:transaction:rollback: Qpid JMS reports that condition on
 * a commit as "in doubt" (JmsTransactionInDoubtException) although the transaction was rolled back, and
 * any other as the TransactionRolledBackException JMS applications expect.
 */
export function transactionRefusal(error: TransactionError): AmqpError {
  const conditions = {
    'unknown-id': TransactionCondition.unknownId,
    rollback: TransactionCondition.rollback,
    limit: Condition.resourceLimitExceeded,
    precondition: Condition.preconditionFailed,
  };
  return { condition: conditions[error.code], description: error.message };
}

/** 4.5.4 txn-id: binary. The broker's ids are its transaction numbers, eight bytes big-endian. */
export function txnIdOf(id: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(id));
  return bytes;
}

/** The transaction number a client's txn-id names; null when it cannot name one of ours. */
export function transactionNumberOf(txnId: unknown): number | null {
  if (!Buffer.isBuffer(txnId) || txnId.length !== 8) return null;
  const id = txnId.readBigUInt64BE(0);
  return id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : null;
}

/** A txn-id for logs and error descriptions. */
export function describeTxnId(txnId: unknown): string {
  return Buffer.isBuffer(txnId) ? `0x${txnId.toString('hex')}` : JSON.stringify(txnId);
}

/** The coordinator as the broker's target in the attach reply (4.5.1), with the capabilities it has. */
export function coordinatorTerminus(capabilities: readonly string[]): unknown {
  return coordinatorType.create({ capabilities: [...capabilities] }).described();
}

/** 4.5.5 declared: the answer to a declare. */
export function declaredState(id: number): unknown {
  return declaredType.create({ txn_id: txnIdOf(id) }).described();
}

/** 4.5.6 transactional-state: a delivery's outcome within a transaction. */
export function transactionalState(txnId: Buffer, outcome: unknown): unknown {
  return transactionalStateType.create({ txn_id: txnId, outcome }).described();
}

function descriptorCode(descriptor: unknown): number | null {
  if (typeof descriptor === 'number') return descriptor;
  if (typeof descriptor === 'string') return SYMBOLIC[descriptor] ?? null;
  return null;
}
