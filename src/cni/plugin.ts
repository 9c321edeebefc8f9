// The tunmesh CNI plugin (spec 1.0; reads and writes 0.3.0-1.0.0): the runtime runs it with CNI_COMMAND
// and friends in the environment and the network configuration on stdin. ADD creates, in the pod's network
// namespace, a persistent TUN device owned by the sidecar's uid/gid, with the conf's MTU, addresses and
// routes, and up, so that a daemon with tun.existing attaches to it with no capability. As a chained
// plugin it passes prevResult on with our interface added; CNI_IFNAME is the runtime's primary interface
// and is left alone. DEL removes the device (a missing device or namespace is success); CHECK compares.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { linkMismatches, readLinkState } from '../platform/linux/link-state.js';
import { decodeConf, parseConf, replyVersion, supportedVersions, type CniConf } from './conf.js';
import { CniError, cniCode } from './errors.js';
import { addResult } from './result.js';

export interface CniOutcome {
  readonly stdout: string;
  readonly exitCode: number;
}

const commands = ['ADD', 'DEL', 'CHECK', 'VERSION'] as const;
type Command = (typeof commands)[number];
const ipTimeoutMs = 10_000;

function requireEnv(env: NodeJS.ProcessEnv, names: readonly string[]): void {
  const missing = names.filter((n) => !env[n]);
  if (missing.length > 0)
    throw new CniError(
      cniCode.invalidEnvironment,
      `missing environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
    );
}

/** ip inside the pod's namespace: CNI_NETNS is a path (/var/run/netns/x or /proc/PID/ns/net), so nsenter. */
function ipIn(netns: string): readonly string[] {
  return ['nsenter', `--net=${netns}`, 'ip'];
}

function ip(netns: string, args: string[]): Promise<void> {
  const [file, ...lead] = ipIn(netns);
  return new Promise((resolve, reject) => {
    execFile(file!, [...lead, ...args], { timeout: ipTimeoutMs }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      reject(
        new CniError(cniCode.interfaceFailure, `ip ${args.join(' ')} failed`, String(stderr).trim() || err.message),
      );
    });
  });
}

const fam = (cidr: string) => (cidr.includes(':') ? '-6' : '-4');

async function add(conf: CniConf, netns: string): Promise<void> {
  const dev = conf.ifName;
  if (conf.prevResult?.interfaces?.some((i) => i.name === dev && (i.sandbox === undefined || i.sandbox === netns)))
    throw new CniError(
      cniCode.invalidConfig,
      `ifName "${dev}" is already an interface of an earlier plugin in the chain`,
    );
  if (await readLinkState(dev, { ipCommand: ipIn(netns), timeoutMs: ipTimeoutMs }))
    throw new CniError(cniCode.interfaceFailure, `a device "${dev}" (ifName) already exists in ${netns}`);
  const owner = ['user', String(conf.uid), ...(conf.gid !== undefined ? ['group', String(conf.gid)] : [])];
  await ip(netns, ['tuntap', 'add', 'dev', dev, 'mode', 'tun', ...owner]);
  try {
    await ip(netns, ['link', 'set', 'dev', dev, 'mtu', String(conf.mtu)]);
    // No DAD: nothing else can hold the address on a point-to-point TUN, and a tentative address would
    // fail the daemon's start check.
    for (const a of conf.addresses)
      await ip(netns, [fam(a), 'addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : [])]);
    await ip(netns, ['link', 'set', 'dev', dev, 'up']);
    for (const r of conf.routes) await ip(netns, [fam(r), 'route', 'replace', r, 'dev', dev]);
  } catch (e) {
    // A half-made device would make the runtime's retry fail on "already exists".
    await ip(netns, ['link', 'del', 'dev', dev]).catch(() => undefined);
    throw e;
  }
}

async function check(conf: CniConf, netns: string): Promise<void> {
  const dev = conf.ifName;
  const state = await readLinkState(dev, { ipCommand: ipIn(netns), timeoutMs: ipTimeoutMs });
  if (!state) throw new CniError(cniCode.checkFailed, `no device "${dev}" (ifName) in ${netns}`);
  const { errors, missingRoutes } = linkMismatches(state, conf);
  if (state.user !== conf.uid) errors.push(`is owned by user ${state.user ?? 'none'}, not ${conf.uid}`);
  if (conf.gid !== undefined && state.group !== conf.gid)
    errors.push(`is owned by group ${state.group ?? 'none'}, not ${conf.gid}`);
  if (missingRoutes.length > 0)
    errors.push(`lacks the route${missingRoutes.length > 1 ? 's' : ''} ${missingRoutes.join(', ')}`);
  if (errors.length > 0) throw new CniError(cniCode.checkFailed, `device "${dev}" (ifName) ${errors.join('; ')}`);
}

async function del(conf: CniConf, netns: string | undefined): Promise<void> {
  // The spec: DEL succeeds when what it would remove is already gone (namespace or device).
  if (!netns || !existsSync(netns)) return;
  try {
    await ip(netns, ['link', 'del', 'dev', conf.ifName]);
  } catch (e) {
    if (e instanceof CniError && /Cannot find device|does not exist/.test(e.details)) return;
    throw e;
  }
}

/** One invocation, as the runtime makes it; never throws. */
export async function runCni(env: NodeJS.ProcessEnv, stdin: string): Promise<CniOutcome> {
  let raw: unknown;
  try {
    const command = env.CNI_COMMAND;
    if (!(commands as readonly (string | undefined)[]).includes(command))
      throw new CniError(
        cniCode.invalidEnvironment,
        `CNI_COMMAND must be one of ${commands.join(', ')}`,
        `CNI_COMMAND: ${JSON.stringify(command ?? null).slice(0, 100)}`,
      );
    raw = decodeConf(stdin);
    if ((command as Command) === 'VERSION')
      return {
        stdout: `${JSON.stringify({ cniVersion: replyVersion(raw), supportedVersions })}\n`,
        exitCode: 0,
      };
    const conf = parseConf(raw);
    switch (command as Command) {
      case 'ADD': {
        requireEnv(env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']);
        const netns = env.CNI_NETNS!;
        if (!existsSync(netns)) throw new CniError(cniCode.invalidEnvironment, `CNI_NETNS ${netns} does not exist`);
        await add(conf, netns);
        return { stdout: `${JSON.stringify(addResult(conf, netns))}\n`, exitCode: 0 };
      }
      case 'CHECK': {
        if (conf.cniVersion !== '1.0.0' && conf.cniVersion !== '0.4.0')
          throw new CniError(
            cniCode.incompatibleVersion,
            `CHECK needs cniVersion 0.4.0 or later, not ${conf.cniVersion}`,
          );
        requireEnv(env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']);
        const netns = env.CNI_NETNS!;
        if (!existsSync(netns)) throw new CniError(cniCode.invalidEnvironment, `CNI_NETNS ${netns} does not exist`);
        await check(conf, netns);
        return { stdout: '', exitCode: 0 };
      }
      case 'DEL':
        requireEnv(env, ['CNI_CONTAINERID', 'CNI_IFNAME']);
        await del(conf, env.CNI_NETNS);
        return { stdout: '', exitCode: 0 };
      default:
        throw new CniError(cniCode.invalidEnvironment, `CNI_COMMAND ${String(command)} is not handled`);
    }
  } catch (e) {
    const err =
      e instanceof CniError
        ? e
        : new CniError(cniCode.interfaceFailure, 'tunmesh-cni failed', e instanceof Error ? e.message : String(e));
    return { stdout: `${JSON.stringify(err.toJson(replyVersion(raw)))}\n`, exitCode: 1 };
  }
}
