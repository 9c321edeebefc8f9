// The `tunmesh` command: commander entry point. Each command lives in its own file and is registered in
// `commands`; this file only wires them up and turns failures into `error: ...` + hint + exit code 1.
import { Command, CommanderError } from 'commander';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { certCommand } from './commands/cert.js';
import { completionCommand } from './commands/completion.js';
import { configCommand } from './commands/config.js';
import { downCommand } from './commands/down.js';
import { joinFileCommand } from './commands/join-file.js';
import { keysCommand } from './commands/keys.js';
import { runCommand } from './commands/run.js';
import { statusCommand } from './commands/status.js';
import { peersCommand } from './commands/peers.js';
import { pingCommand } from './commands/ping.js';
import { reloadCommand } from './commands/reload.js';
import { secretCommand } from './commands/secret.js';
import { upCommand } from './commands/up.js';
import { formatError, withExamples } from './common.js';

/** Builds one top-level command (with its subcommands). */
export type CommandFactory = () => Command;

/** Every top-level command, in help order. Add new commands here. */
export const commands: CommandFactory[] = [
  runCommand,
  upCommand,
  downCommand,
  statusCommand,
  peersCommand,
  pingCommand,
  reloadCommand,
  configCommand,
  keysCommand,
  secretCommand,
  joinFileCommand,
  certCommand,
  completionCommand,
];

function version(): string {
  // src/cli/main.ts and dist/cli/main.js both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Commander does not pass settings to commands added with addCommand(); apply them to the whole tree. */
function configureTree(cmd: Command): void {
  cmd.exitOverride();
  cmd.showHelpAfterError('(add --help for usage and examples)');
  for (const c of cmd.commands) configureTree(c);
}

export function buildProgram(factories: readonly CommandFactory[] = commands): Command {
  const program = new Command('tunmesh')
    .description('Layer-3 mesh VPN sidecar: WireGuard-compatible data plane, gossip membership, HTTPS control API')
    .version(version(), '-V, --version');
  for (const make of factories) program.addCommand(make());
  withExamples(program, [
    'tunmesh config example > config.yaml',
    'tunmesh config check config.yaml',
    'tunmesh <command> --help',
  ]);
  configureTree(program);
  return program;
}

/** Runs the CLI; resolves to the exit code (long-running commands resolve when they finish). */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  // `tunmesh config example | head` closes the pipe early; that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (e) {
    // Commander already printed its own message (usage errors) or the help/version text.
    if (e instanceof CommanderError) return e.exitCode;
    process.stderr.write(formatError(e));
    return 1;
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = await main();
