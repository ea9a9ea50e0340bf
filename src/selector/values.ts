/**
 * The values a JMS message selector works on (JMS 2.0 3.8.1.1): every identifier a selector names
 * reads one of these from the message.
 *
 * The JavaScript type is the JMS type, so nothing else has to travel with a value:
 * - `bigint`: an exact numeric (byte, short, int, long). JavaScript numbers cannot tell the long 3
 *   from the double 3.0, and lose longs beyond 2^53 (ids, timestamps in nanoseconds).
 * - `number`: an approximate numeric (float, double).
 * - `string`, `boolean`: themselves.
 * - `null` (or `undefined` from SelectorFields.get): the identifier is absent, the SQL NULL.
 * - a symbol, any symbol: present, but of a type JMS selectors cannot use (AMQP binary, list, map,
 *   timestamp, uuid, char, decimal, described values): it IS NOT NULL, and every comparison with it
 *   is false, as for any two values of unlike types. NON_JMS_VALUE is one, for callers to use.
 */
export const NON_JMS_VALUE: unique symbol = Symbol('non-JMS value');

export type SelectorValue = string | boolean | number | bigint | symbol | null;

/** What a selector reads a message through: one lookup per identifier (headers and properties alike). */
export interface SelectorFields {
  get(identifier: string): SelectorValue | undefined;
}

/** SQL three-valued logic: true, false, or null for unknown. */
export type Truth = boolean | null;
