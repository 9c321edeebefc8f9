// IGMP (v2, v3) and MLD (v1, v2) reports that local applications' sockets make the kernel send into the
// TUN: which multicast groups this node wants. Pure; never throws on input (a malformed report is ignored).
import { formatAddress } from '../wire/ip.js';

export interface GroupChange {
  readonly joins: readonly string[];
  readonly leaves: readonly string[];
}

const u16 = (p: Uint8Array, i: number) => (p[i]! << 8) | p[i + 1]!;

/** Group-record types (RFC 3376 §4.2.12, RFC 3810 §5.2.12). */
const modeIsInclude = 1;
const modeIsExclude = 2;
const changeToInclude = 3;
const changeToExclude = 4;
const allowNewSources = 5;

/** A v3/v2 record says "member" unless it is INCLUDE mode with no sources (that is a leave). */
function recordJoins(type: number, sources: number): boolean | undefined {
  if (type === modeIsExclude || type === changeToExclude) return true;
  if (type === modeIsInclude || type === changeToInclude) return sources > 0;
  if (type === allowNewSources) return sources > 0 ? true : undefined;
  return undefined;
}

/**
 * The group records of an IGMPv3 / MLDv2 report starting at `at`; both have the same layout except the
 * address size: type, aux length, source count, group, sources, aux data.
 */
function groupRecords(p: Uint8Array, at: number, addrLen: number): GroupChange | undefined {
  const joins: string[] = [];
  const leaves: string[] = [];
  let o = at + 8;
  for (let n = u16(p, at + 6); n > 0; n--) {
    if (p.length < o + 4 + addrLen) return undefined;
    const sources = u16(p, o + 2);
    const end = o + 4 + addrLen + addrLen * sources + 4 * p[o + 1]!;
    if (p.length < end) return undefined;
    const j = recordJoins(p[o]!, sources);
    const group = formatAddress(p.subarray(o + 4, o + 4 + addrLen))!;
    if (j === true) joins.push(group);
    else if (j === false) leaves.push(group);
    o = end;
  }
  return { joins, leaves };
}

function igmp(p: Uint8Array, at: number): GroupChange | undefined {
  if (p.length < at + 8) return undefined;
  const type = p[at]!;
  const group = formatAddress(p.subarray(at + 4, at + 8))!;
  if (type === 0x16 || type === 0x12) return { joins: [group], leaves: [] };
  if (type === 0x17) return { joins: [], leaves: [group] };
  return type === 0x22 ? groupRecords(p, at, 4) : undefined;
}

function mld(p: Uint8Array, at: number): GroupChange | undefined {
  if (p.length < at + 8) return undefined;
  const type = p[at]!;
  if (type === 131 || type === 132) {
    if (p.length < at + 24) return undefined;
    const group = formatAddress(p.subarray(at + 8, at + 24))!;
    return type === 131 ? { joins: [group], leaves: [] } : { joins: [], leaves: [group] };
  }
  return type === 143 ? groupRecords(p, at, 16) : undefined;
}

/** The group changes a packet from the TUN announces, or undefined when it is not a membership report. */
export function parseMembershipReport(p: Uint8Array): GroupChange | undefined {
  if (p.length < 1) return undefined;
  const version = p[0]! >> 4;
  if (version === 4) {
    if (p.length < 20 || p[9] !== 2) return undefined;
    return igmp(p, (p[0]! & 0xf) * 4);
  }
  if (version !== 6 || p.length < 40) return undefined;
  // MLD rides behind a hop-by-hop options header (router alert); walk hop-by-hop/destination options only.
  let next = p[6]!;
  let at = 40;
  for (let hops = 0; hops < 4 && (next === 0 || next === 60); hops++) {
    if (p.length < at + 8) return undefined;
    const len = (p[at + 1]! + 1) * 8;
    next = p[at]!;
    at += len;
  }
  return next === 58 ? mld(p, at) : undefined;
}
