// Entry of bin/tunmesh-cni: stdin -> runCni -> stdout and the exit code. Nothing else is printed on stdout,
// which the runtime parses; stderr is for humans.
import { readFileSync } from 'node:fs';
import { runCni } from './plugin.js';

export async function main(): Promise<number> {
  let stdin = '';
  try {
    stdin = readFileSync(0, 'utf8');
  } catch {
    // No stdin (VERSION from a shell): the conf is then empty and decoding reports it.
  }
  const out = await runCni(process.env, stdin);
  process.stdout.write(out.stdout);
  return out.exitCode;
}
