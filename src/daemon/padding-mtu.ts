// R28: the kernel bounds WireGuard's padding by the MTU of the route a packet took (dst_mtu); a userspace
// TUN never sees that route, so the engines bound padding by the smallest MTU of any route into the TUN
// (platform RouteMtuSource), kept live as routes come and go. Without it, a route MTU of 1299 under a
// 1420 tunnel pads inner packets of 1297..1299 bytes to 1312, past what the route's underlay carries.
import type { Logger } from '../base/log.js';
import type { DataPlaneEngine } from '../dataplane/engine.js';
import type { Metrics } from '../metrics/registry.js';
import type { RouteMtuSource, RouteMtuWatch } from '../platform/ports.js';

export interface PaddingMtuDeps {
  readonly source: RouteMtuSource | undefined;
  readonly device: string;
  readonly tunMtu: number;
  readonly engine: DataPlaneEngine;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** The padding bound for a smallest route MTU: never above the tunnel MTU. */
export function paddingMtuFor(tunMtu: number, routeMtu: number | undefined): number {
  return routeMtu === undefined ? tunMtu : Math.min(tunMtu, routeMtu);
}

/** Applies the bound now and on every change; the watch (to stop with the daemon), if there is a source. */
export async function watchPaddingMtu(d: PaddingMtuDeps): Promise<RouteMtuWatch | undefined> {
  const apply = (routeMtu: number | undefined): void => {
    const bound = paddingMtuFor(d.tunMtu, routeMtu);
    d.engine.setPaddingMtu?.(bound < d.tunMtu ? bound : 0);
    d.metrics.set('padding_mtu_bytes', {}, bound);
  };
  apply(undefined);
  if (!d.source) return undefined;
  const watch = await d.source.watch(d.device);
  watch.onChange((m) => {
    apply(m);
    d.log.info({ paddingMtu: paddingMtuFor(d.tunMtu, m), routeMtu: m }, 'padding bound follows the route MTU');
  });
  apply(watch.current());
  return watch;
}
