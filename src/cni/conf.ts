// The plugin's network configuration (the JSON a runtime writes on stdin), validated with zod. Every input
// is hostile: a miss is a CNI error naming the key, with the spec's code (1 version, 2 unsupported field,
// 6 undecodable, 7 invalid value).
import { z } from 'zod';
import { net } from '../base/constants.js';
import { formatCidr, parseCidr } from '../config/net.js';
import { formatCidr as formatWireCidr, parseCidr as parseWireCidr } from '../wire/ip.js';
import { CniError, cniCode } from './errors.js';

/** The spec versions whose conf and result this plugin reads and writes (CHECK exists from 0.4.0). */
export const supportedVersions = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;
export type CniVersion = (typeof supportedVersions)[number];
export const defaultIfName = 'tm0';

const cidr = (what: string) =>
  z
    .string()
    .refine((s) => parseCidr(s) !== undefined, { message: `must be a ${what} CIDR like 198.19.0.1/24 or fd00::1/64` })
    .transform((s) => formatCidr(parseCidr(s)!));
/** A route destination: no host bits (ip refuses 198.19.5.1/24 as a route). The wire parser masks. */
const prefix = () =>
  cidr('route').refine(
    (s) => {
      const c = parseWireCidr(s);
      return c !== undefined && formatCidr(parseCidr(formatWireCidr(c))!) === s;
    },
    { message: 'must be a network prefix with no host bits set, like 198.19.5.0/24' },
  );
const intIn = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.number({ invalid_type_error: message }).int({ message }).min(min, { message }).max(max, { message });
};

const prevResult = z
  .object({
    interfaces: z.array(z.object({ name: z.string() }).passthrough()).optional(),
    ips: z.array(z.object({ address: z.string() }).passthrough()).optional(),
    routes: z.array(z.object({ dst: z.string() }).passthrough()).optional(),
    dns: z.object({}).passthrough().optional(),
  })
  .passthrough();

export const confSchema = z
  .object({
    cniVersion: z.enum(supportedVersions),
    name: z.string().min(1, { message: 'must be the network name' }),
    type: z.literal('tunmesh-cni', { errorMap: () => ({ message: 'must be "tunmesh-cni"' }) }),
    ifName: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,15}$/, { message: 'must be 1-15 of A-Z a-z 0-9 _ . - (a Linux interface name)' })
      .refine((s) => s !== '.' && s !== '..', { message: 'must not be "." or ".."' })
      .default(defaultIfName),
    mtu: intIn(net.minTunMtu, net.maxTunMtu).default(net.defaultTunMtu),
    uid: intIn(0, 4_294_967_294),
    gid: intIn(0, 4_294_967_294).optional(),
    addresses: z
      .array(cidr('address'))
      .min(1, { message: 'must list at least one CIDR (the node’s overlay addresses)' })
      .max(16, { message: 'must list at most 16 CIDRs' }),
    routes: z.array(prefix()).max(64, { message: 'must list at most 64 CIDRs' }).default([]),
    // Keys of the spec itself that a runtime may pass to any plugin; we read only prevResult.
    args: z.unknown().optional(),
    ipMasq: z.unknown().optional(),
    ipam: z.unknown().optional(),
    dns: z.unknown().optional(),
    capabilities: z.unknown().optional(),
    runtimeConfig: z.unknown().optional(),
    prevResult: prevResult.optional(),
  })
  .strict();

export type CniConf = z.output<typeof confSchema>;
export type PrevResult = z.output<typeof prevResult>;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The cniVersion a reply should carry, even when the conf is bad: the conf's if it is ours, else the newest. */
export function replyVersion(raw: unknown): CniVersion {
  const v = isRecord(raw) ? raw.cniVersion : undefined;
  return (supportedVersions as readonly unknown[]).includes(v) ? (v as CniVersion) : '1.0.0';
}

/** JSON text -> the object, or error 6. */
export function decodeConf(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new CniError(cniCode.decodingFailure, 'the network configuration on stdin is not JSON', (e as Error).message);
  }
}

/** A decoded conf -> a validated one, or the CNI error naming the first bad key. */
export function parseConf(raw: unknown): CniConf {
  if (!isRecord(raw)) throw new CniError(cniCode.decodingFailure, 'the network configuration must be a JSON object');
  if (typeof raw.cniVersion !== 'string' || !(supportedVersions as readonly string[]).includes(raw.cniVersion))
    throw new CniError(
      cniCode.incompatibleVersion,
      `cniVersion ${JSON.stringify(raw.cniVersion)} is not supported`,
      `supported: ${supportedVersions.join(', ')}`,
    );
  const r = confSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    const key = issue.keys[0]!;
    throw new CniError(
      cniCode.unsupportedField,
      `unsupported field "${key}" in the network configuration`,
      `${key}: ${JSON.stringify(raw[key])?.slice(0, 200)}`,
    );
  }
  const key = issue.path.join('.') || '(conf)';
  const message =
    issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined' ? 'is required' : issue.message;
  throw new CniError(cniCode.invalidConfig, `${key} ${message}`);
}
