/**
 * Delivery-ids and transfer-ids are sequence numbers (AMQP 1.0 2.8.8 delivery-number, 2.8.9
 * transfer-number, 2.8.10 sequence-no): 32-bit, wrapping, compared with RFC 1982 serial number
 * arithmetic.
 */
export const SERIAL_MODULUS = 4294967296;

export function nextSerial(value: number): number {
  return (value + 1) % SERIAL_MODULUS;
}

/** How far `to` is ahead of `from`, modulo 2^32 (0 to 2^32 - 1). */
export function serialDistance(from: number, to: number): number {
  return (((to - from) % SERIAL_MODULUS) + SERIAL_MODULUS) % SERIAL_MODULUS;
}

/** RFC 1982 3.2: `to` is at or after `from` when it is less than half the number space ahead. */
export function isAtOrAfter(from: number, to: number): boolean {
  return serialDistance(from, to) < SERIAL_MODULUS / 2;
}
