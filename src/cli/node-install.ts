// Where `tunmesh up` puts a node and its systemd unit, and how the unit is rendered from the shipped one
// (deploy/systemd/tunmesh@.service). `tunmesh down` removes exactly these paths and nothing else.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './common.js';

/** The files of one node under <config-dir>/<name>/, by role. */
export interface NodeLayout {
  readonly dir: string;
  readonly config: string;
  readonly clusterSecret: string;
  readonly nodeKey: string;
  readonly operatorToken: string;
  readonly tlsDir: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly unitName: string;
  readonly unit: string;
}

// A node name is a DNS label (node.name's rule): safe in a path and in a unit instance name.
const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// systemd splits ExecStart on whitespace and expands % and $; quotes and backslashes would need escaping.
const unitSafePath = /^[A-Za-z0-9/._+@,:=-]+$/;

export function checkNodeName(name: string): void {
  if (!label.test(name))
    throw new UsageError(
      `--name ${JSON.stringify(name)} is not a node name: lower-case letters, digits and '-', 1-63 characters, no '-' at either end`,
    );
}

export function checkDir(flag: string, value: string): string {
  const dir = resolve(value);
  if (!isAbsolute(dir) || !unitSafePath.test(dir))
    throw new UsageError(
      `${flag} ${JSON.stringify(value)} must be a path of letters, digits and / . _ + @ , : = - only`,
      'systemd units cannot name other paths without escaping; choose a plain directory',
    );
  return dir;
}

export function nodeLayout(configDir: string, unitDir: string, name: string): NodeLayout {
  const dir = join(configDir, name);
  const tlsDir = join(dir, 'tls');
  const unitName = `tunmesh@${name}.service`;
  return {
    dir,
    config: join(dir, 'config.yaml'),
    clusterSecret: join(dir, 'cluster.secret'),
    nodeKey: join(dir, 'node.key'),
    operatorToken: join(dir, 'operator.token'),
    tlsDir,
    cert: join(tlsDir, 'cert.pem'),
    key: join(tlsDir, 'key.pem'),
    ca: join(tlsDir, 'ca.pem'),
    unitName,
    unit: join(unitDir, unitName),
  };
}

/** The unit as shipped (src/cli and dist/cli both sit two levels below the package root). */
export const shippedUnitFile = fileURLToPath(new URL('../../deploy/systemd/tunmesh@.service', import.meta.url));
const tunmeshBin = fileURLToPath(new URL('../../bin/tunmesh.js', import.meta.url));

/**
 * The shipped unit with ExecStart naming this node binary and this tunmesh (absolute paths, as systemd
 * wants; bin/tunmesh.js's shebang flag is passed to node, since it is not run as an executable here) and
 * the node's own config file.
 */
export function renderUnit(layout: NodeLayout): string {
  for (const p of [process.execPath, tunmeshBin])
    if (!unitSafePath.test(p))
      throw new UsageError(
        `${p} contains characters a systemd ExecStart cannot hold unescaped`,
        'install tunmesh and node under plain paths',
      );
  const exec = `ExecStart=${process.execPath} --max-semi-space-size=1 ${tunmeshBin} run --config ${layout.config}`;
  const shipped = readFileSync(shippedUnitFile, 'utf8');
  const lines = shipped.split('\n');
  const at = lines.findIndex((l) => l.startsWith('ExecStart='));
  if (at < 0) throw new Error(`${shippedUnitFile} has no ExecStart line`);
  lines[at] = exec;
  return lines.join('\n');
}

/** Runs systemctl; a failure says which command failed, that the files stay, and how to see why. */
export function systemctl(args: readonly string[], unitName: string): void {
  try {
    execFileSync('systemctl', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT'
        ? 'systemctl is not on PATH: this machine does not run systemd'
        : `systemctl ${args.join(' ')} failed (see above)`,
      code === 'ENOENT'
        ? 'pass --no-start and run `tunmesh run --config FILE` under your service manager'
        : `\`journalctl -u ${unitName}\` and \`systemctl status ${unitName}\` say why; without systemd as PID 1, use --no-start (up) or --no-stop (down)`,
    );
  }
}
