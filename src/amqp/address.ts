import { SUBSCRIPTION_SEPARATOR } from '../broker/topics';

/**
 * Source addresses may carry consumer options after `?` (DESIGN §3), the way JMS users write
 * `session.createQueue("orders?consumer.exclusive=true")`. The queue is the part before `?`.
 */
export interface ConsumerAddressOptions {
  readonly exclusive?: boolean;
  readonly priority?: number;
}

export interface ParsedAddress {
  readonly queue: string;
  readonly options: ConsumerAddressOptions;
}

/** A user error in an address: refuses the link with amqp:invalid-field. */
export class AddressError extends Error {}

/** Broker-owned addresses (operator views); never a queue. */
const RESERVED_PREFIX = '$convoy/';


/** Queue names and group ids are stored with a 16-bit length (src/store/record-codec.ts). */
export const MAX_NAME_BYTES = 65535;

/** Queue and topic names a client may use: `::` belongs to subscription queues (`prices::app.audit`). */
function checkNodeName(name: string): void {
  if (name.includes(SUBSCRIPTION_SEPARATOR)) {
    throw new AddressError(`"${name}" contains "${SUBSCRIPTION_SEPARATOR}", which is reserved: it separates a topic from its subscription in subscription queue names`);
  }
  checkNameLength('the queue name', name);
}

/** Throws when `name` (a queue name or group id) is longer than the store can record. */
export function checkNameLength(what: string, name: string): void {
  if (name.length * 3 > MAX_NAME_BYTES && Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw new AddressError(`${what} is longer than ${MAX_NAME_BYTES} bytes`);
  }
}

/** An option name or value is percent-encoded (RFC 3986 2.1); a malformed escape is a bad address. */
function decodeOption(text: string, address: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new AddressError(`malformed percent-encoding "${text}" in address "${address}"`);
  }
}

export function parseSourceAddress(address: string): ParsedAddress {
  const questionMark = address.indexOf('?');
  const queue = questionMark < 0 ? address : address.slice(0, questionMark);
  if (queue.length === 0) throw new AddressError(`address "${address}" names no queue`);
  checkNodeName(queue);
  const options: { exclusive?: boolean; priority?: number } = {};
  if (questionMark < 0) return { queue, options };
  for (const pair of address.slice(questionMark + 1).split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = decodeOption(equals < 0 ? pair : pair.slice(0, equals), address);
    const value = equals < 0 ? '' : decodeOption(pair.slice(equals + 1), address);
    switch (name) {
      case 'consumer.exclusive':
      case 'exclusive':
        options.exclusive = parseBoolean(name, value);
        break;
      case 'consumer.priority':
      case 'consumer-priority':
        options.priority = parsePriority(name, value);
        break;
      default:
        throw new AddressError(
          `unknown address option "${name}" in "${address}" (known: consumer.exclusive, exclusive, consumer.priority, consumer-priority)`,
        );
    }
  }
  return { queue, options };
}

/** Target addresses take no options yet: a `?` there is refused rather than silently dropped. */
export function parseTargetAddress(address: string): string {
  if (address.startsWith(RESERVED_PREFIX)) throw new AddressError(`addresses starting with ${RESERVED_PREFIX} are reserved for the broker`);
  if (address.includes('?')) throw new AddressError(`target address "${address}" takes no options`);
  if (address.length === 0) throw new AddressError('target address is empty');
  checkNodeName(address);
  return address;
}

function parseBoolean(name: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new AddressError(`address option ${name} must be true or false, got "${value}"`);
}

export function parsePriority(name: string, value: unknown): number {
  const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof number === 'number' && Number.isInteger(number) && Math.abs(number) <= 2 ** 31 - 1) return number;
  throw new AddressError(`${name} must be an integer, got ${JSON.stringify(value)}`);
}
