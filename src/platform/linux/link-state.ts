// What a network device looks like now (`ip -j`), read without any privilege: for a daemon that attaches
// to a TUN someone else configured (tun.existing) and for the CNI plugin's CHECK. `ipCommand` lets the
// caller run ip elsewhere (the CNI plugin: inside a pod's namespace through nsenter).
import { execFile } from 'node:child_process';

export interface LinkState {
  readonly name: string;
  readonly up: boolean;
  readonly mtu: number;
  /** 'tun' for a TUN device, else whatever the kernel reports (or '' when it reports none). */
  readonly kind: string;
  /** Addresses as canonical CIDRs: '198.19.1.3/24', 'fd00:19:1::3/64'. */
  readonly addresses: readonly string[];
  /** Destinations of the routes through the device (main table), canonical CIDRs. */
  readonly routes: readonly string[];
  /** A TUN's owner (`ip tuntap add … user UID group GID`); undefined when it has none. */
  readonly user?: number | undefined;
  readonly group?: number | undefined;
}

export interface LinkStateOptions {
  /** The command (and leading arguments) that runs ip; default ['ip']. */
  readonly ipCommand?: readonly string[];
  readonly timeoutMs?: number;
}

interface IpLink {
  ifname?: string;
  flags?: string[];
  mtu?: number;
  linkinfo?: { info_kind?: string; info_data?: { user?: unknown; group?: unknown } };
  addr_info?: { local?: string; prefixlen?: number; scope?: string }[];
}

/** One canonical spelling of an IP literal (IPv6 compressed and lowercase), so comparisons are exact. */
export function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}

/** A CIDR in canonical spelling; a bare address becomes a host prefix (/32, /128). */
export function canonicalCidr(cidr: string): string {
  const [ip = '', len] = cidr.split('/');
  return `${canonicalIp(ip)}/${len ?? (ip.includes(':') ? '128' : '32')}`;
}

function runIp(cmd: readonly string[], args: string[], timeoutMs: number): Promise<string> {
  const [file = 'ip', ...lead] = cmd;
  return new Promise((resolve, reject) => {
    execFile(file, [...lead, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(new Error(String(stderr).trim() || err.message), { stderr: String(stderr) }));
      else resolve(String(stdout));
    });
  });
}

/** The device's state, or undefined when no device of that name exists in the namespace. */
export async function readLinkState(device: string, o: LinkStateOptions = {}): Promise<LinkState | undefined> {
  const cmd = o.ipCommand ?? ['ip'];
  const timeoutMs = o.timeoutMs ?? 10_000;
  let links: IpLink[];
  try {
    links = JSON.parse(await runIp(cmd, ['-d', '-j', 'addr', 'show', 'dev', device], timeoutMs)) as IpLink[];
  } catch (e) {
    if (/does not exist|Cannot find device/.test((e as Error).message)) return undefined;
    throw e;
  }
  const link = links[0];
  if (!link) return undefined;
  const routes: string[] = [];
  for (const fam of ['-4', '-6']) {
    const rows = JSON.parse(await runIp(cmd, [fam, '-j', 'route', 'show', 'dev', device], timeoutMs)) as {
      dst?: string;
    }[];
    for (const r of rows) if (r.dst && r.dst !== 'default') routes.push(canonicalCidr(r.dst));
  }
  return {
    name: link.ifname ?? device,
    up: (link.flags ?? []).includes('UP'),
    mtu: link.mtu ?? 0,
    kind: link.linkinfo?.info_kind ?? '',
    addresses: (link.addr_info ?? [])
      .filter((a) => a.local !== undefined && a.prefixlen !== undefined)
      .map((a) => `${canonicalIp(a.local!)}/${a.prefixlen}`),
    routes,
    user: typeof link.linkinfo?.info_data?.user === 'number' ? link.linkinfo.info_data.user : undefined,
    group: typeof link.linkinfo?.info_data?.group === 'number' ? link.linkinfo.info_data.group : undefined,
  };
}

export interface WantedLink {
  readonly mtu: number;
  readonly addresses: readonly string[];
  readonly routes: readonly string[];
}

/** How the device differs from what is wanted: `errors` make it unusable, `missingRoutes` only limit it. */
export function linkMismatches(s: LinkState, want: WantedLink): { errors: string[]; missingRoutes: string[] } {
  const errors: string[] = [];
  if (s.kind !== '' && s.kind !== 'tun') errors.push(`is a ${s.kind} device, not a TUN`);
  if (!s.up) errors.push('is down');
  if (s.mtu !== want.mtu) errors.push(`has MTU ${s.mtu}, not ${want.mtu}`);
  const have = new Set(s.addresses);
  const missing = want.addresses.map(canonicalCidr).filter((a) => !have.has(a));
  if (missing.length > 0) errors.push(`lacks the address${missing.length > 1 ? 'es' : ''} ${missing.join(', ')}`);
  const routes = new Set(s.routes);
  const missingRoutes = want.routes.map(canonicalCidr).filter((r) => !routes.has(r));
  return { errors, missingRoutes };
}
