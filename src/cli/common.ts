// Shared CLI helpers: help examples, error reporting, option parsing (secret files: secret-file.ts).
import { InvalidArgumentError, type Command } from 'commander';
import { TunmeshError } from '../base/errors.js';

/** Adds an "Examples:" section to a command's --help; every command has one. */
export function withExamples(cmd: Command, examples: readonly string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
}

/** An error in how the command was used, with what to do instead. */
export class UsageError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'UsageError';
    this.hint = hint;
  }
}

/** `error: ...` plus a hint line, as every command reports failure. */
export function formatError(e: unknown, env: NodeJS.ProcessEnv = process.env): string {
  if (e instanceof TunmeshError || e instanceof UsageError) {
    const code = e instanceof TunmeshError ? ` [${e.code}]` : '';
    const [first, ...rest] = e.message.split('\n');
    const body = [`error: ${first}${code}`, ...rest.map((l) => `  ${l}`)].join('\n');
    return `${body}\n${e.hint ? `hint: ${e.hint}\n` : ''}`;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const stack = env.TUNMESH_DEBUG ? `${err.stack ?? ''}\n` : '';
  return `error: ${err.message}\n${stack}hint: this looks like a bug; rerun with TUNMESH_DEBUG=1 for a stack trace and report it\n`;
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Commander parser for a whole-number option value in [min, max]. */
export function intOption(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || n < min || n > max)
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}.`);
    return n;
  };
}
