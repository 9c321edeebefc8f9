// tun.existing: attach to a TUN device someone else created and configured for our uid (the tunmesh-cni
// plugin, or root with `ip tuntap add … user UID`). Nothing here needs a capability: reading the device's
// state is plain netlink, and TUNSETIFF on an existing device is allowed to its owner (uid or gid).
//
// The device must be as the config says before we attach: up, tun.mtu, every address of node.addresses and
// tun.addresses. Those are refused (the daemon announces the addresses and sizes its buffers by the MTU, so
// a mismatch breaks the mesh in ways that are hard to see later). Missing tun.routes or static-peer routes
// only narrow what reaches the tunnel, and the operator may route otherwise (policy routing, a default
// route): they are warned about.
import { TunmeshError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { Config } from '../config/index.js';
import { linkMismatches, type LinkState } from '../platform/linux/link-state.js';
import type { TunDevice, TunFactory } from '../platform/ports.js';

export type LinkStateReader = (device: string) => Promise<LinkState | undefined>;

const createHint = (name: string) =>
  `create it first, owned by the daemon's uid or gid (the tunmesh-cni plugin, or as root: ip tuntap add dev ${name} ` +
  `mode tun user UID group GID, then its addresses, MTU and routes, and ip link set ${name} up), ` +
  'or set tun.existing: false to let the daemon create it (needs CAP_NET_ADMIN)';

export async function attachExistingTun(o: {
  config: Config;
  tun: TunFactory;
  linkState: LinkStateReader | undefined;
  /** Routes the daemon would have installed besides tun.routes (static peers' allowed IPs). */
  extraRoutes: readonly string[];
  log: Logger;
}): Promise<TunDevice> {
  const { config, log } = o;
  const name = config.tun.name;
  if (!o.linkState)
    throw new TunmeshError('TUN_SETUP_FAILED', 'tun.existing is not supported on this platform', {
      hint: 'set tun.existing: false',
    });
  const state = await o.linkState(name);
  if (!state)
    throw new TunmeshError(
      'TUN_SETUP_FAILED',
      `tun.existing is true but there is no device "${name}" (tun.name) in this network namespace`,
      { hint: createHint(name) },
    );
  const want = {
    mtu: config.tun.mtu,
    addresses: [...config.node.addresses, ...config.tun.addresses],
    routes: [...config.tun.routes, ...o.extraRoutes],
  };
  const { errors, missingRoutes } = linkMismatches(state, want);
  if (errors.length > 0)
    throw new TunmeshError(
      'TUN_SETUP_FAILED',
      `tun.existing: the device "${name}" (tun.name) ${errors.join('; ')} (tun.mtu ${want.mtu}, ` +
        `node.addresses + tun.addresses: ${want.addresses.join(' ') || 'none'})`,
      { hint: 'configure the device as the config says (whoever creates it), or change the config to match it' },
    );
  if (missingRoutes.length > 0)
    log.warn(
      { device: name, missing: missingRoutes },
      'tun.existing: routes of the config are not on the device; traffic to them will not enter the mesh',
    );
  let tun: TunDevice;
  try {
    tun = await o.tun.open(name);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new TunmeshError(
      'TUN_SETUP_FAILED',
      `tun.existing: cannot attach to the device "${name}" (tun.name): ${reason}`,
      {
        hint:
          `the device must belong to this process's uid ${process.getuid?.()} or one of its groups ` +
          `(ip tuntap add dev ${name} mode tun user UID group GID), and /dev/net/tun must be readable and writable`,
        cause,
      },
    );
  }
  log.info({ device: name, mtu: state.mtu, addresses: state.addresses }, 'attached to the existing TUN device');
  return tun;
}
