// Inner (tunnelled) packet addresses for routing and the source check, as views into the packet.

/** Destination address bytes of an IPv4/IPv6 packet, or undefined when it is not a whole IP header. */
export function innerDestination(p: Uint8Array): Uint8Array | undefined {
  const v = p.length > 0 ? p[0]! >> 4 : 0;
  if (v === 4 && p.length >= 20) return p.subarray(16, 20);
  if (v === 6 && p.length >= 40) return p.subarray(24, 40);
  return undefined;
}

export function innerSource(p: Uint8Array): Uint8Array | undefined {
  const v = p.length > 0 ? p[0]! >> 4 : 0;
  if (v === 4 && p.length >= 20) return p.subarray(12, 16);
  if (v === 6 && p.length >= 40) return p.subarray(8, 24);
  return undefined;
}
