/** A configuration problem a user can fix; the message names the field and what was expected. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly expected: string,
    readonly got: unknown,
  ) {
    super(`invalid configuration: ${field}: expected ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
    this.name = 'ConfigError';
  }
}

export type Check<T> = (value: unknown, field: string) => T;

export const positiveInteger: Check<number> = (value, field) => {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  throw new ConfigError(field, 'a positive integer', value);
};

export const nonNegativeInteger: Check<number> = (value, field) => {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  throw new ConfigError(field, 'an integer >= 0', value);
};

/** An integer from `min` to `max` inclusive; `why` says where the bounds come from. */
export function integerBetween(min: number, max: number, why?: string): Check<number> {
  return (value, field) => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    throw new ConfigError(field, `an integer from ${min} to ${max}${why ? ` (${why})` : ''}`, value);
  };
}

export const port: Check<number> = integerBetween(0, 65535, 'a TCP port; 0 picks a free one');

export const nonEmptyString: Check<string> = (value, field) => {
  if (typeof value === 'string' && value.length > 0) return value;
  throw new ConfigError(field, 'a non-empty string', value);
};

export const boolean: Check<boolean> = (value, field) => {
  if (typeof value === 'boolean') return value;
  throw new ConfigError(field, 'true or false', value);
};

export function oneOf<T extends string>(choices: readonly T[]): Check<T> {
  return (value, field) => {
    if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
    throw new ConfigError(field, `one of ${choices.join(', ')}`, value);
  };
}

export function nullable<T>(check: Check<T>): Check<T | null> {
  return (value, field) => (value === null ? null : check(value, field));
}

export function plainObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new ConfigError(field, 'an object', value);
}

/** Validates the known keys of `input`; an unknown key is an error (a typo must not be ignored silently). */
export function checkObject<T>(input: unknown, field: string, checks: { [K in keyof T]-?: Check<T[K]> }): Partial<T> {
  const object = plainObject(input, field);
  const out: Partial<T> = {};
  for (const [key, value] of Object.entries(object)) {
    const check = (checks as Record<string, Check<unknown>>)[key];
    const path = field === '' ? key : `${field}.${key}`;
    if (check === undefined) throw new ConfigError(path, `one of the known options (${Object.keys(checks).join(', ')})`, key);
    if (value === undefined) continue;
    (out as Record<string, unknown>)[key] = check(value, path);
  }
  return out;
}
