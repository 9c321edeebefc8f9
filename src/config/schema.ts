// The one configuration schema. Validation, defaults, the annotated example (`tunmesh config example`),
// environment overrides and docs/CONFIG.md all read it; nothing else lists settings.
import { z } from 'zod';
import { net } from '../base/constants.js';
import { decodeKey } from '../crypto/keys.js';
import { field } from './meta.js';
import {
  formatCidr,
  formatHostPort,
  isUnspecified,
  parseCidr,
  parseHostPort,
  parseHttpsUrl,
  specialUse,
} from './net.js';

export const rules = {
  cidr: 'must be a CIDR like 198.19.0.1/16 or fd00::1/64',
  hostPort: 'must be ip:port like 198.18.0.1:51820 or [fd00::1]:51820 (port 1-65535)',
  listen: 'must be ip:port like 0.0.0.0:51820 or [::]:51820 (port 0-65535)',
  httpsUrl:
    'must be an https URL like https://198.18.0.1:4567 or https://tunmesh.example.svc:4567 (no query or credentials)',
  dnsLabel: 'must be a DNS label: 1-63 of a-z 0-9 -, starting and ending with a letter or digit',
  tunName: 'must be 1-15 of A-Z a-z 0-9 _ . - (a Linux interface name), not "." or ".."',
  peerName: 'must be 1-64 of A-Z a-z 0-9 _ . -',
  publicKey: 'must be a WireGuard public key: 32 bytes in base64 (44 characters ending in "=", as `wg pubkey` prints)',
  filePath: 'must be a file path',
} as const;

const intIn = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.number().int({ message }).min(min, { message }).max(max, { message });
};
const cidr = () =>
  z
    .string()
    .refine((s) => parseCidr(s) !== undefined, { message: rules.cidr })
    .transform((s) => formatCidr(parseCidr(s)!));
/** A CIDR of the overlay itself: never link-local, multicast, loopback, unspecified or IPv4-mapped. */
const overlayCidr = (as: 'address' | 'prefix') =>
  cidr().superRefine((s, ctx) => {
    const c = parseCidr(s);
    const what = c && specialUse(c, as);
    if (what)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `must not be ${as === 'prefix' ? 'or overlap ' : ''}${what}: overlay ${as}es must be routable unicast`,
      });
  });
const endpoint = () => z.string().refine((s) => parseHostPort(s) !== undefined, { message: rules.hostPort });
const listen = () =>
  z.string().refine((s) => parseHostPort(s, { allowPortZero: true }) !== undefined, { message: rules.listen });
const httpsUrl = () => z.string().refine((s) => parseHttpsUrl(s) !== undefined, { message: rules.httpsUrl });
const filePath = () => z.string().min(1, { message: rules.filePath });

const node = z
  .object({
    name: field(z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { message: rules.dnsLabel }), {
      description: 'Name of this node, unique in the mesh.',
      type: 'DNS label',
      example: 'node-a',
    }),
    addresses: field(z.array(overlayCidr('address')).max(8, { message: 'must list at most 8 CIDRs' }), {
      description: "This node's overlay addresses with the mesh prefix, at most one IPv4 and one IPv6.",
      details: [
        'The address is the node’s own address inside the mesh; the prefix is the whole mesh network,',
        'which is routed into the TUN device.',
        'May be empty ([]) when node.ipv4Pool or node.ipv6Prefix supplies the addresses (docs/ADDRESSING.md).',
      ],
      type: 'list of CIDR',
      example: ['198.19.0.1/16', 'fd00:19::1/64'],
    }),
    ipv4Pool: field(
      overlayCidr('prefix')
        .refine((s) => parseCidr(s)?.family === 4, { message: 'must be an IPv4 CIDR like 198.19.0.0/16' })
        .optional(),
      {
        description: 'Pick this node’s IPv4 from this pool when node.addresses has none (the pool is the mesh prefix).',
        details: [
          'The address is the first one no other node holds, in an order fixed by a hash of node.name,',
          'so a node keeps its address across restarts (docs/ADDRESSING.md).',
        ],
        type: 'CIDR',
        example: '198.19.0.0/16',
      },
    ),
    ipv6Prefix: field(
      overlayCidr('prefix')
        .refine((s) => parseCidr(s)?.family === 6 && parseCidr(s)!.prefixLength <= 127, {
          message: 'must be an IPv6 CIDR of /127 or shorter, like fd00:19::/64',
        })
        .optional(),
      {
        description: 'Derive this node’s IPv6 inside this prefix when node.addresses has none (see ipv6Derive).',
        type: 'CIDR',
        example: 'fd00:19::/64',
      },
    ),
    ipv6Derive: field(z.enum(['ipv4', 'publicKey']).default('ipv4'), {
      description: 'How the IPv6 host bits are derived: from the node’s IPv4 or from a hash of its public key.',
      details: [
        'ipv4: prefix | IPv4 clamped to the host bits; beyond /96 two nodes can collide and the second is refused.',
        'publicKey: the low host bits of SHA-256(public key), as smegmesh does.',
      ],
    }),
    routes: field(z.array(cidr()).max(64, { message: 'must list at most 64 CIDRs' }).default([]), {
      description: 'Subnets reachable behind this node (e.g. a LAN), advertised so other nodes route them here.',
      details: [
        'This node must forward them (net.ipv4.ip_forward / net.ipv6.conf.all.forwarding) and the subnet must',
        'route the mesh back through it. Nodes advertising the same CIDR are redundant exits: flows are spread',
        'over them by a hash of the 5-tuple and move to the others when one dies. The other nodes need the',
        'CIDR in tun.routes (kernel routes are installed only at start, before the privilege drop).',
      ],
      type: 'list of CIDR',
      example: ['198.19.251.0/24'],
    }),
    reach: field(z.enum(['direct', 'outbound']).default('direct'), {
      description: 'direct: other nodes can reach this node’s UDP endpoint and API; outbound: only outgoing works.',
      details: [
        'outbound = behind a NAT or firewall without port forwarding. Other nodes then never contact its API',
        '(it heartbeats its record instead) and learn its UDP endpoint from its authenticated packets; it sends',
        'a persistent keepalive (default 25 s) so the NAT mapping stays open. Two outbound nodes cannot reach',
        'each other (no relay or hole punching): status shows such pairs as `no path` (docs/OPERATIONS.md).',
      ],
    }),
    privateKeyFile: field(filePath(), {
      description: 'File holding the WireGuard private key, base64 as `wg genkey` writes it.',
      details: ['Create it with `tunmesh keys generate --out FILE` (mode 0600).'],
      type: 'file path',
      example: '/etc/tunmesh/node.key',
      file: true,
    }),
  })
  .strict()
  .superRefine((n, ctx) => {
    const families = new Set(n.addresses.map((a) => parseCidr(a)?.family));
    if (n.addresses.length === 0 && !n.ipv4Pool && !n.ipv6Prefix)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['addresses'],
        message: 'must list at least one CIDR (or set node.ipv4Pool / node.ipv6Prefix)',
      });
    if (n.ipv6Prefix && n.ipv6Derive === 'ipv4' && !n.ipv4Pool && !families.has(4))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['ipv6Derive'],
        message: 'ipv4 derivation needs an IPv4 (in node.addresses or from node.ipv4Pool); or use publicKey',
      });
    const seen = new Map<number, number>();
    n.addresses.forEach((a, i) => {
      const family = parseCidr(a)?.family;
      if (family === undefined) return;
      const first = seen.get(family);
      if (first === undefined) seen.set(family, i);
      else
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['addresses', i],
          message: `second IPv${family} address (node.addresses[${first}] is one already); at most one IPv4 and one IPv6`,
        });
    });
  });

const tun = z
  .object({
    name: field(
      z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,15}$/, { message: rules.tunName })
        .refine((s) => s !== '.' && s !== '..', { message: rules.tunName })
        .default('tunmesh0'),
      {
        description: 'Name of the TUN device the daemon creates (or attaches to, with tun.existing).',
        type: 'interface name',
      },
    ),
    existing: field(z.boolean().default(false), {
      description: 'Attach to a TUN device that already exists and is configured, instead of creating it.',
      details: [
        'Someone else (the tunmesh-cni plugin, or root with `ip tuntap add dev NAME mode tun user UID`) creates',
        'tun.name owned by the daemon’s uid/gid, with its addresses, MTU and routes, and sets it up. The daemon',
        'then needs no capability: it checks that the device is up with tun.mtu and every address of',
        'node.addresses and tun.addresses (else it refuses to start) and warns about missing tun.routes.',
        'A missing device is an error. tun.mssClamp cannot be combined with it (nftables needs privileges).',
      ],
    }),
    mtu: field(intIn(net.minTunMtu, net.maxTunMtu).default(net.defaultTunMtu), {
      description: 'MTU of the TUN device: the largest inner packet.',
      details: ['1420 leaves room for IPv6 + UDP + WireGuard headers on a 1500-byte underlay.'],
      unit: 'bytes',
    }),
    routes: field(z.array(cidr()).max(64, { message: 'must list at most 64 CIDRs' }).default([]), {
      description: 'Extra routes into the TUN device, installed at start (e.g. subnets other nodes advertise).',
      details: ['Packets to them go to the node(s) that advertise the CIDR in node.routes; none = dropped.'],
      type: 'list of CIDR',
      example: ['198.19.251.0/24'],
    }),
    addresses: field(z.array(cidr()).max(16, { message: 'must list at most 16 CIDRs' }).default([]), {
      description: 'Extra addresses on the TUN device (not announced to the mesh), added at start.',
      type: 'list of CIDR',
      example: ['198.19.250.1/32'],
    }),
    mssClamp: field(z.boolean().default(false), {
      description: 'Clamp the MSS of TCP SYNs crossing the TUN to the route MTU (an nftables table of its own).',
      details: ['Useful when forwarding for subnets (node.routes) whose hosts assume a 1500-byte path.'],
    }),
    upScript: field(filePath().optional(), {
      description: 'Trusted executable run as root once the TUN is set up, before the privilege drop.',
      details: [
        'Environment: TUNMESH_PHASE=up, TUNMESH_NODE, TUNMESH_TUN, TUNMESH_MTU, TUNMESH_ADDRESSES,',
        'TUNMESH_ROUTES (tun.routes), TUNMESH_ADVERTISED_ROUTES (node.routes); 30 s limit; failure stops start.',
      ],
      type: 'file path',
      example: '/etc/tunmesh/up.sh',
      file: true,
    }),
    downScript: field(filePath().optional(), {
      description: 'Trusted executable run when the daemon stops (TUNMESH_PHASE=down, same variables).',
      details: ['It runs as the user the daemon dropped to (process.uid); failures are logged.'],
      type: 'file path',
      example: '/etc/tunmesh/down.sh',
      file: true,
    }),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.existing && t.mssClamp)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['mssClamp'],
        message: 'cannot be combined with tun.existing: nftables needs privileges the attached daemon does not hold',
      });
  });

const staticPeer = z
  .object({
    name: field(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: rules.peerName }), {
      description: 'Name of the peer, for logs, metrics and status.',
      example: 'office-gw',
    }),
    publicKey: field(
      z.string().refine((s) => decodeKey(s) !== undefined, { message: rules.publicKey }),
      {
        description: 'The peer’s WireGuard public key.',
        type: 'base64 key',
        example: 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=',
      },
    ),
    endpoint: field(endpoint().optional(), {
      description: 'UDP endpoint of the peer; without it the peer must connect first.',
      type: 'ip:port',
      example: '198.18.0.10:51820',
    }),
    allowedIps: field(z.array(cidr()).min(1, { message: 'must list at least one CIDR' }), {
      description: 'Inner addresses routed to this peer and accepted from it (crypto-key routing).',
      type: 'list of CIDR',
      example: ['198.19.100.0/24'],
    }),
    presharedKeyFile: field(filePath().optional(), {
      description: 'File holding a pre-shared key, base64 as `wg genpsk` writes it.',
      type: 'file path',
      example: '/etc/tunmesh/office-gw.psk',
      file: true,
    }),
    persistentKeepaliveSec: field(intIn(0, 3600).optional(), {
      description: 'Keepalive interval for this peer; 0 = off. Default: wireguard.persistentKeepaliveSec.',
      example: 25,
    }),
  })
  .strict();

const wireguard = z
  .object({
    listen: field(listen().default('0.0.0.0:51820'), {
      description: 'UDP address the WireGuard socket binds.',
      details: ['Use [::]:51820 for IPv6 (dual-stack); port 0 picks a free port.'],
      type: 'ip:port',
    }),
    advertise: field(z.array(endpoint()).max(16, { message: 'must list at most 16 endpoints' }).default([]), {
      description: 'UDP endpoints announced to peers; empty = derived at runtime from the interfaces.',
      type: 'list of ip:port',
      example: ['198.18.0.1:51820'],
    }),
    persistentKeepaliveSec: field(intIn(0, 3600).default(0), {
      description: 'Keepalive interval for every peer, to keep NAT mappings open; 0 = off.',
      details: ['Reloads live (`tunmesh reload`, SIGHUP).', '0 with node.reach outbound means 25 s.'],
    }),
    staticPeers: field(z.array(staticPeer).default([]), {
      description: 'Stock WireGuard peers that are not tunmesh nodes (e.g. wg-quick hosts).',
      details: [
        'Reloads live (`tunmesh reload`, SIGHUP): peers are added, changed or removed; others keep their sessions.',
      ],
      type: 'list of peer',
    }),
  })
  .strict()
  .superRefine((w, ctx) => {
    const names = new Map<string, number>();
    const keys = new Map<string, number>();
    w.staticPeers.forEach((p, i) => {
      const key = decodeKey(p.publicKey);
      const dupName = names.get(p.name);
      if (dupName !== undefined)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['staticPeers', i, 'name'],
          message: `duplicate peer name (wireguard.staticPeers[${dupName}] has it too)`,
        });
      else names.set(p.name, i);
      const k = key ? Buffer.from(key).toString('hex') : p.publicKey;
      const dupKey = keys.get(k);
      if (dupKey !== undefined)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['staticPeers', i, 'publicKey'],
          message: `duplicate public key (wireguard.staticPeers[${dupKey}] has it too)`,
        });
      else keys.set(k, i);
    });
  });

const dataplane = z
  .object({
    engine: field(z.enum(['js', 'native']).default('native'), {
      description: 'Packet engine: native (the C++ addon fast path) or js (the TypeScript reference path).',
      details: [
        'native runs established sessions on its own threads with batched I/O and TUN/UDP offloads; everything else (handshakes, fan-out, other transports) goes up to TypeScript.',
        'When the addon cannot be loaded the daemon logs a warning and runs the js engine, which speaks the same bytes.',
      ],
    }),
  })
  .strict();

const transport = z
  .object({
    methods: field(
      z
        .array(z.enum(['wireguard', 'tls', 'null']))
        .min(1, { message: 'must list at least one method' })
        .max(3)
        .refine((l) => new Set(l).size === l.length, { message: 'must not list a method twice' })
        .default(['wireguard', 'tls']),
      {
        description: 'Transport methods this node allows, most preferred first: wireguard, tls, null.',
        details: [
          'A pair uses the first method in the initiator’s list (the node whose public key sorts first) that the other node also allows; no common method: the pair is not installed and status shows `none` (docs/PROTOCOL.md).',
          'wireguard: encrypted UDP. tls: the same WireGuard messages over one persistent TLS stream per peer, on the control API port (for networks that block UDP).',
          'With both wireguard and tls allowed (the default) a pair falls back to tls by itself when UDP does not get through, and returns when it works again.',
          'null: plain, UNENCRYPTED and unauthenticated UDP — anyone on the path can read and inject overlay packets. Only for networks the operator fully trusts; used only when both nodes list it, never a default.',
        ],
        type: 'list of method',
        example: ['wireguard', 'tls'],
      },
    ),
    recoverIntervalMs: field(intIn(1000, 3_600_000).default(10_000), {
      description: 'While a pair has fallen back to tls, how often it tests UDP again (authenticated probes).',
    }),
    silenceMs: field(intIn(500, 600_000).default(3_000), {
      description:
        'Nothing received over UDP from a peer we send to for this long starts the UDP probes that decide a fallback.',
      details: ['The fallback to tls follows 2.5 s later when no probe is answered.'],
    }),
  })
  .strict();

const tls = z
  .object({
    certFile: field(filePath(), {
      description: 'PEM certificate (or chain) the API serves; may be shared by all nodes.',
      details: ['Create a self-signed one with `tunmesh cert generate --out-dir DIR`.'],
      type: 'file path',
      example: '/etc/tunmesh/tls/cert.pem',
      file: true,
    }),
    keyFile: field(filePath(), {
      description: 'PEM private key of certFile.',
      type: 'file path',
      example: '/etc/tunmesh/tls/key.pem',
      file: true,
    }),
    caFile: field(filePath().optional(), {
      description: 'PEM CA bundle used to verify other nodes; unset = certFile is the trust anchor.',
      type: 'file path',
      example: '/etc/tunmesh/tls/ca.pem',
      file: true,
    }),
    verifyHostname: field(z.boolean().default(false), {
      description: 'Check that a node’s certificate names the host of its URL (needs proper SANs).',
    }),
  })
  .strict();

const control = z
  .object({
    listen: field(listen().default('0.0.0.0:4567'), {
      description: 'TCP address the HTTPS control API binds.',
      type: 'ip:port',
    }),
    advertiseUrl: field(
      z
        .string()
        .refine((s) => s === '' || parseHttpsUrl(s) !== undefined, { message: `${rules.httpsUrl}, or empty` })
        .default(''),
      {
        description: 'https URL other nodes use to reach this node’s API; must reach this node alone.',
        details: ['Empty = https://<listen> when listen names a specific address (not 0.0.0.0 or ::).'],
        type: 'https URL',
        example: 'https://198.18.0.1:4567',
      },
    ),
    tls: field(tls, { description: 'TLS of the control API (server and client side).' }),
    operatorTokenFile: field(filePath().optional(), {
      description:
        'File holding the operator token: it opens the dashboard and authorises the operator routes (status, peers, ping, events, reload, key rotation), besides the cluster secret.',
      details: [
        'At least 32 characters after trimming whitespace; create it with `tunmesh secret generate --out FILE`.',
        'The CLI reads the same key from its config and proves the token with every operator command.',
        'Unset = no dashboard (its URLs answer 404 with a hint) and every operator route answers 403 OPERATOR_TOKEN_REQUIRED: members holding the cluster secret cannot act as the operator. Reloads live when still readable.',
      ],
      type: 'file path',
      example: '/etc/tunmesh/operator.token',
      file: true,
    }),
    dashboard: field(z.boolean().default(true), {
      description: 'Serve the live dashboard at /ui/ of the control API (needs operatorTokenFile). Reloads live.',
    }),
    metricsListen: field(listen().optional(), {
      description: 'Serve /metrics over plain HTTP on this address instead of the control API port.',
      details: [
        'Unset = /metrics is on the API port and needs `Authorization: Bearer <token>` (metricsTokenFile or the operator token).',
        'Set = the API port answers 404 for /metrics; this listener serves only GET /metrics, with the bearer token when metricsTokenFile is set and without one otherwise, so bind it to loopback or a network only the scraper reaches. Needs a restart.',
      ],
      type: 'ip:port',
      example: '127.0.0.1:9567',
    }),
    metricsTokenFile: field(filePath().optional(), {
      description: 'File holding a read-only bearer token for /metrics (a Prometheus bearer_token_file).',
      details: [
        'At least 32 characters after trimming; `tunmesh secret generate --out FILE` makes one. It opens /metrics and the full /health, nothing else. Needs a restart.',
      ],
      type: 'file path',
      example: '/etc/tunmesh/metrics.token',
      file: true,
    }),
  })
  .strict()
  .transform((c) => ({ ...c, advertiseUrl: c.advertiseUrl || derivedAdvertiseUrl(c.listen) }));

/** `https://<listen>` when listen names one address and a fixed port; '' otherwise. */
export function derivedAdvertiseUrl(listenAddress: string): string {
  const hp = parseHostPort(listenAddress, { allowPortZero: true });
  if (!hp || isUnspecified(hp.host) || hp.port === 0) return '';
  return `https://${formatHostPort(hp)}`;
}

// The glob rule is routing/route-policy.ts's nodeGlobPattern; config may not import routing, so it is
// spelled here too (test/unit/route-policy-config.test.ts checks they agree).
const nodeGlob = /^[A-Za-z0-9._*?-]{1,64}$/;

const routeGrant = z
  .object({
    prefix: field(cidr(), {
      description: 'Routes inside this CIDR (equal or more specific) are granted to the nodes below.',
      type: 'CIDR',
      example: '198.19.251.0/24',
    }),
    nodes: field(
      z
        .array(
          z.string().regex(nodeGlob, {
            message: 'must be a node name or a glob of A-Z a-z 0-9 . _ - with * (any run) and ? (one character)',
          }),
        )
        .min(1, { message: 'must list at least one node name or glob' })
        .max(64, { message: 'must list at most 64 names' }),
      {
        description: 'Node names, or globs where * matches any run of characters and ? one character.',
        type: 'list of name or glob',
        example: ['gw-*', 'router-1'],
      },
    ),
    exit: field(z.boolean().default(false), {
      description: 'The nodes may also advertise routes here that cover other members’ addresses (exits).',
      details: ['A default route (0.0.0.0/0, ::/0) always does; a route equal to a member’s address never passes.'],
    }),
  })
  .strict();

const cluster = z
  .object({
    secretFile: field(filePath(), {
      description: 'File holding the cluster shared secret: at least 32 characters after trimming whitespace.',
      details: [
        'Every node of the cluster uses the same secret; it never leaves the node.',
        'Create it with `tunmesh secret generate --out FILE` (mode 0600).',
      ],
      type: 'file path',
      example: '/etc/tunmesh/cluster.secret',
      file: true,
    }),
    bootstrap: field(z.array(httpsUrl()).max(64, { message: 'must list at most 64 URLs' }).default([]), {
      description: 'API URLs of existing nodes to join through; empty for the first node.',
      details: ['A DNS name that resolves to many nodes (a Kubernetes headless Service) counts as one URL.'],
      type: 'list of https URL',
      example: ['https://198.18.0.1:4567'],
    }),
    routePolicy: field(z.array(routeGrant).max(256, { message: 'must list at most 256 grants' }).optional(), {
      description: 'Which nodes may advertise which subnet routes (node.routes); unset = any node any route.',
      details: [
        'Every node checks the records it receives against its own copy: give every node the same list.',
        'A route is installed only inside a prefix granted to the advertising node; [] grants nothing.',
        'Whether set or not, no route may equal or cover another live member’s overlay address, except',
        'routes granted with exit: true, which may cover (never equal) them. Production meshes should set',
        'it (`config check` warns when node.routes or tun.routes are used without it). Reloads live.',
      ],
      type: 'list of grant',
      example: [
        { prefix: '198.19.251.0/24', nodes: ['gw-*'] },
        { prefix: '0.0.0.0/0', nodes: ['egress-1'], exit: true },
      ],
    }),
  })
  .strict();

const membership = z
  .object({
    probeIntervalMs: field(intIn(50, 60_000).default(1000), {
      description: 'How often this node gossips with and probes other nodes.',
    }),
    failureTimeoutMs: field(intIn(500, 3_600_000).default(10_000), {
      description: 'A node not heard from (directly or via gossip) this long is declared dead and pruned.',
    }),
    gossipFanout: field(intIn(1, 32).default(3), {
      description: 'Nodes contacted per gossip round.',
      unit: 'nodes',
    }),
    requestTimeoutMs: field(intIn(50, 60_000).default(2000), {
      description: 'Timeout of one control request to another node.',
    }),
    bootstrapRetryMinMs: field(intIn(10, 3_600_000).default(500), {
      description: 'First delay before retrying bootstrap; doubles up to bootstrapRetryMaxMs.',
    }),
    bootstrapRetryMaxMs: field(intIn(10, 3_600_000).default(30_000), {
      description: 'Largest delay between bootstrap retries.',
    }),
  })
  .strict()
  .superRefine((m, ctx) => {
    const issue = (path: string, message: string) =>
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [path], message });
    if (m.bootstrapRetryMinMs > m.bootstrapRetryMaxMs)
      issue('bootstrapRetryMinMs', `must be ≤ membership.bootstrapRetryMaxMs (${m.bootstrapRetryMaxMs})`);
    if (m.probeIntervalMs >= m.failureTimeoutMs)
      issue('failureTimeoutMs', `must be greater than membership.probeIntervalMs (${m.probeIntervalMs})`);
    if (m.requestTimeoutMs >= m.failureTimeoutMs)
      issue('requestTimeoutMs', `must be less than membership.failureTimeoutMs (${m.failureTimeoutMs})`);
  });

const dns = z
  .object({
    enabled: field(z.boolean().default(false), {
      description: 'Run a DNS responder for mesh names in this namespace (for the application containers).',
      details: ['It answers A/AAAA for <node-name>.<domain> and forwards other names to dns.upstream.'],
    }),
    listen: field(listen().default('127.0.0.53:53'), {
      description: 'UDP address the DNS responder binds (before the privilege drop, so port 53 works).',
      type: 'ip:port',
    }),
    domain: field(
      z
        .string()
        .regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
          message: 'must be a DNS name like mesh.local',
        })
        .default('mesh.local'),
      { description: 'Domain of mesh names: node n2 is n2.<domain>; other names in it get NXDOMAIN.' },
    ),
    upstream: field(z.array(endpoint()).max(8, { message: 'must list at most 8 servers' }).default([]), {
      description: 'DNS servers (ip:port) that answer names outside the mesh domain; empty = REFUSED.',
      type: 'list of ip:port',
      example: ['198.18.0.53:53'],
    }),
    timeoutMs: field(intIn(100, 30_000).default(2000), {
      description: 'How long one upstream server may take before the next one is asked (then SERVFAIL).',
    }),
    allow: field(z.array(cidr()).max(64, { message: 'must list at most 64 CIDRs' }).optional(), {
      description: 'Sources the responder serves; others are refused without an answer (counted).',
      details: [
        'Unset = loopback (127.0.0.0/8, ::1/128) and the mesh prefixes of node.addresses. A list replaces',
        'that default: name every client network, loopback included if wanted.',
        '`config check` warns when dns.listen is neither loopback nor an overlay address while upstream is set.',
      ],
      type: 'list of CIDR',
      example: ['127.0.0.0/8', '198.19.0.0/16'],
    }),
  })
  .strict();

const routing = z
  .object({
    broadcast: field(z.boolean().default(false), {
      description: 'Carry IPv4 broadcast (255.255.255.255 and the overlay prefix broadcast) to every node.',
      details: ['Off: such packets are dropped (counted as broadcast_disabled), sent or received.'],
    }),
    multicast: field(z.boolean().default(true), {
      description: 'Carry multicast to the nodes whose applications joined the group (IGMP/MLD snooping).',
      details: ['The mesh is one routed hop: the TTL / hop limit must be 2 or more and is decremented.'],
    }),
    multicastLinkLocal: field(z.boolean().default(false), {
      description: 'Also carry link-local groups (224.0.0.0/24, ff02::/16, e.g. mDNS), TTL unchanged.',
    }),
  })
  .strict();

const logging = z
  .object({
    level: field(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'), {
      description: 'Least severe log level written (JSON lines on stderr).',
      details: ['Reloads live (`tunmesh reload`, SIGHUP).'],
    }),
  })
  .strict();

const metrics = z
  .object({
    enabled: field(z.boolean().default(true), {
      description: 'Serve Prometheus metrics at /metrics of the control API.',
    }),
  })
  .strict();

const processSection = z
  .object({
    uid: field(intIn(1, 4_294_967_294).optional(), {
      description: 'User id to drop to after setup when started as root.',
      example: 65534,
    }),
    gid: field(intIn(1, 4_294_967_294).optional(), {
      description: 'Group id to drop to after setup when started as root.',
      example: 65534,
    }),
  })
  .strict();

export const configSchema = z
  .object({
    node: field(node, { description: 'Identity of this node.' }),
    tun: field(tun.default({}), { description: 'The TUN device.' }),
    wireguard: field(wireguard.default({}), { description: 'The WireGuard data plane.' }),
    dataplane: field(dataplane.default({}), { description: 'Packet processing.' }),
    transport: field(transport.default({}), { description: 'Transport methods, fallback and recovery.' }),
    control: field(control, { description: 'The HTTPS control API.' }),
    cluster: field(cluster, { description: 'Joining the mesh.' }),
    membership: field(membership.default({}), { description: 'Gossip and failure detection.' }),
    dns: field(dns.default({}), { description: 'DNS for mesh names (docs/ADDRESSING.md).' }),
    routing: field(routing.default({}), { description: 'Broadcast and multicast across the mesh.' }),
    logging: field(logging.default({}), { description: 'Logs.' }),
    metrics: field(metrics.default({}), { description: 'Prometheus metrics.' }),
    process: field(processSection.default({}), { description: 'The daemon process.' }),
  })
  .strict();

/** A validated config: defaults filled in, file paths absolute (after loadConfig). */
export type Config = z.output<typeof configSchema>;
/** What a YAML file may contain (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;
export type StaticPeerConfig = Config['wireguard']['staticPeers'][number];
export type LogLevel = Config['logging']['level'];
