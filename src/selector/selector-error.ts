/**
 * A selector that cannot be used: a syntax or type error, or a limit exceeded. The message says what
 * and, when it is about one place in the text, where (1-based column), so the AMQP layer can hand it
 * to the client as the description of amqp:invalid-field unchanged.
 */
export class SelectorError extends Error {
  constructor(
    readonly reason: string,
    readonly column: number | null,
  ) {
    super(column === null ? reason : `${reason} at column ${column}`);
    this.name = 'SelectorError';
  }
}
