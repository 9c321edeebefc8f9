// NAT routers for netns tests: a router namespace with a `wan` leg on the lab bridge and a `lan` leg to
// one lab node that is moved off the bridge behind it. The router masquerades the LAN (nft), forwards only
// what conntrack knows (or a DNAT port forward), and can shorten the UDP conntrack timeouts of its own
// namespace (net.netfilter.* timeouts are per network namespace). Addresses: wan on the lab subnet
// 198.18.<k>.<wanHost>; lan 198.18.<lanNet>.0/24 with the router at .1.
import type { Lab, LabNode } from './netns.js';

export interface NatRouter {
  readonly ns: string;
  /** The router's address on the lab bridge: what public nodes see as the NATed node's source. */
  readonly wanIp: string;
  readonly lanNet: number;
  /** The NATed node's current LAN address. */
  lanIp: string;
}

export interface NatRouterOptions {
  /** Short namespace name, e.g. 'r1'. */
  readonly name: string;
  /** Host part of the router's wan address on the lab subnet (e.g. 254). */
  readonly wanHost: number;
  /** Third octet of the LAN behind the router (e.g. 251). */
  readonly lanNet: number;
  /** UDP conntrack timeouts of the router namespace, seconds (both the plain and the "stream" one). */
  readonly udpTimeoutS?: number;
  /** Port forwards wan:port -> node:port (advertise tests). */
  readonly forwards?: readonly { proto: 'udp' | 'tcp'; wanPort: number; toPort: number }[];
}

async function nft(lab: Lab, ns: string, script: string): Promise<void> {
  await lab.exec(ns, 'nft', ['-f', '-'], { input: script });
}

/** Moves lab node `node` off the bridge behind a new NAT router; the node keeps the name eth0 for its link. */
export async function natRouter(lab: Lab, node: LabNode, o: NatRouterOptions): Promise<NatRouter> {
  const ns = await lab.addNamespace(o.name);
  const wanIp = `198.18.${lab.subnetIndex}.${o.wanHost}`;
  const lanIp = `198.18.${o.lanNet}.2`;
  await lab.link(o.name, 'br', `${wanIp}/24`, undefined, { ifA: 'wan', ifB: o.name });
  await lab.exec('br', 'ip', ['link', 'set', o.name, 'master', 'br0']);
  // The node leaves the bridge: its veth pair goes, a new one leads to the router.
  await lab.exec('br', 'ip', ['link', 'del', node.name]);
  await lab.link(o.name, node.ns, `198.18.${o.lanNet}.1/24`, `${lanIp}/24`, { ifA: 'lan', ifB: 'eth0' });
  await lab.exec(node.ns, 'ip', ['route', 'add', 'default', 'via', `198.18.${o.lanNet}.1`]);
  await lab.exec(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  const dnat = (o.forwards ?? [])
    .map((f) => `    iifname "wan" ${f.proto} dport ${f.wanPort} dnat to ${lanIp}:${f.toPort}`)
    .join('\n');
  // Counts every forwarded packet (nat chains see only the first packet of a flow).
  const counted = (o.forwards ?? []).map((f) => `    iifname "wan" ${f.proto} dport ${f.toPort} counter`).join('\n');
  // A static UDP port forward maps both ways: what the node sends from its port leaves from the public one.
  const snat = (o.forwards ?? [])
    .filter((f) => f.proto === 'udp')
    .map((f) => `    oifname "wan" ip saddr ${lanIp} udp sport ${f.toPort} snat to ${wanIp}:${f.wanPort}`)
    .join('\n');
  await nft(
    lab,
    ns,
    `table ip natlab {
  chain natpre {
    type nat hook prerouting priority -100; policy accept;
${dnat}
  }
  chain natpost {
    type nat hook postrouting priority 100; policy accept;
${snat}
    oifname "wan" masquerade
  }
  chain filterfwd {
    type filter hook forward priority 0; policy drop;
${counted}
    ct state established,related accept
    ct status dnat accept
    iifname "lan" oifname "wan" accept
    counter comment "refused"
  }
}
`,
  );
  if (o.udpTimeoutS !== undefined)
    await lab.exec(ns, 'sysctl', [
      '-qw',
      `net.netfilter.nf_conntrack_udp_timeout=${o.udpTimeoutS}`,
      `net.netfilter.nf_conntrack_udp_timeout_stream=${o.udpTimeoutS}`,
    ]);
  return { ns, wanIp, lanNet: o.lanNet, lanIp };
}

/** Packets the router's port forwards have carried inwards to the node's port `toPort` so far. */
export async function forwarded(lab: Lab, r: NatRouter, proto: 'udp' | 'tcp', toPort: number): Promise<number> {
  const out = (await lab.exec(r.ns, 'nft', ['list', 'chain', 'ip', 'natlab', 'filterfwd'])).stdout;
  const m = new RegExp(`${proto} dport ${toPort} counter packets (\\d+)`).exec(out);
  if (!m) throw new Error(`no forward to ${proto}/${toPort} in ${r.ns}: ${out}`);
  return Number(m[1]);
}

/** Reads a sysctl inside a namespace. */
export async function sysctlIn(lab: Lab, ns: string, key: string): Promise<string> {
  return (await lab.exec(ns, 'sysctl', ['-n', key])).stdout.trim();
}

/**
 * The NATed node moves to another LAN subnet behind the same router (a new address, as after a DHCP
 * renumbering or a move between networks): new address and default route, the old address gone.
 */
export async function renumber(lab: Lab, node: LabNode, r: NatRouter, lanNet: number): Promise<void> {
  await lab.exec(r.ns, 'ip', ['addr', 'add', `198.18.${lanNet}.1/24`, 'dev', 'lan']);
  const next = `198.18.${lanNet}.2`;
  await lab.exec(node.ns, 'ip', ['-batch', '-'], {
    input: [
      `addr add ${next}/24 dev eth0`,
      `addr del ${r.lanIp}/24 dev eth0`,
      `route replace default via 198.18.${lanNet}.1`,
      '',
    ].join('\n'),
  });
  r.lanIp = next;
}
