/** A password could not be read (empty, mistyped twice, interrupted); the message says which. */
export class PasswordInputError extends Error {}

/**
 * Reads a password: prompted without echo when stdin is a terminal (asked twice when `confirm`),
 * otherwise the first line of stdin (`printf '%s\n' "$PASSWORD" | convoy users add …`).
 */
export async function readPassword(prompt: string, confirm: boolean, stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (!stdin.isTTY) return firstLine(await readAll(stdin));
  const password = await promptHidden(prompt, stdin);
  if (password === '') throw new PasswordInputError('the password is empty');
  if (confirm && (await promptHidden('Again: ', stdin)) !== password) throw new PasswordInputError('the two passwords differ');
  return password;
}

function readAll(stdin: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    stdin.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stdin.once('error', reject);
  });
}

function firstLine(text: string): string {
  const newline = text.search(/\r?\n/);
  const line = newline < 0 ? text : text.slice(0, newline);
  if (line === '') throw new PasswordInputError('no password on stdin (give it as the first line)');
  if (newline >= 0 && text.slice(newline).trim() !== '') throw new PasswordInputError('stdin holds more than one line: give the password alone');
  return line;
}

/**
 * Reads one line from the terminal in raw mode, echoing nothing; prompts go to stderr. Raw mode is
 * set before the prompt appears: a password typed in answer to it is never echoed.
 */
function promptHidden(prompt: string, stdin: NodeJS.ReadStream): Promise<string> {
  stdin.setRawMode(true);
  process.stderr.write(prompt);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error: Error | null): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish(null);
        if (char === '\u0003') return finish(new PasswordInputError('interrupted'));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    stdin.on('data', onData);
  });
}
