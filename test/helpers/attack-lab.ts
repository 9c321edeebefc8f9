// The lab the hostile-input tests share: n1 and n2 form a mesh, n3 is an attacker on the same underlay
// with no tunmesh. Helpers read n1's drop counters through the control API and run the attack scripts
// (test/helpers/hostile-probe.ts, impair-flood.ts) inside a namespace.
//
//   const t = await AttackLab.create('t2h-');
//   const before = await t.drops();  ...  t.outsideTotal(after) - t.outsideTotal(before)
//   after(() => t?.destroy());
import { outsideDropReasons } from '../../src/noise/actions.js';
import { Lab, type ExecResult } from './netns.js';
import { Mesh, type MeshOptions } from './mesh.js';

/** The last line of a script's stdout, parsed as JSON (the scripts print one result line last). */
export const lastJson = <T>(s: string): T => JSON.parse(s.trim().split('\n').at(-1)!) as T;

/**
 * The drop reasons outside (unauthenticated) input can cause: the device's, plus the native engine's
 * bounded queue to TypeScript (handshake messages beyond it are dropped before the device sees them).
 */
const outsideReasons: readonly string[] = [...outsideDropReasons, 'queue_full'];

/** Sum over the drop reasons that outside (unauthenticated) input can cause. */
export const outsideTotal = (d: Readonly<Record<string, number>>): number =>
  outsideReasons.reduce((a, k) => a + (d[k] ?? 0), 0);

/** after − before for every outside drop reason. */
export function outsideDelta(
  before: Readonly<Record<string, number>>,
  after: Readonly<Record<string, number>>,
): Record<string, number> {
  return Object.fromEntries(outsideReasons.map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
}

export class AttackLab {
  private constructor(
    readonly lab: Lab,
    readonly mesh: Mesh,
  ) {}

  /** Lab `prefix` with 3 namespaces; n1 and n2 run tunmesh (n2 bootstraps from n1) and have converged. */
  static async create(prefix: string, opts: MeshOptions = {}): Promise<AttackLab> {
    const lab = await Lab.create(prefix, { nodes: 3 });
    let mesh: Mesh | undefined;
    try {
      mesh = await Mesh.create(lab, { bootstrap: { n2: ['n1'] }, ...opts });
      mesh.start('n1');
      mesh.start('n2');
      await mesh.waitConverged(['n1', 'n2']);
      return new AttackLab(lab, mesh);
    } catch (e) {
      await mesh?.cleanup();
      await lab.destroy();
      throw e;
    }
  }

  /** Runs `node --import tsx test/helpers/<script> ARGS` in namespace `ns`. */
  script(ns: string, script: string, args: readonly string[], timeoutMs = 120_000): Promise<ExecResult> {
    return this.lab.exec(ns, process.execPath, ['--import', 'tsx', `test/helpers/${script}`, ...args], { timeoutMs });
  }

  /**
   * `node`'s drop counters by reason, read through its API from namespace `from` (default n2, so the
   * attacker's namespace sees nothing of the victim but its answers to the attack).
   */
  async drops(node = 'n1', from = 'n2'): Promise<Record<string, number>> {
    const r = await this.script(this.lab.node(from).ns, 'hostile-probe.ts', [
      'metrics',
      this.mesh.apiUrl(node),
      this.mesh.operatorTokenFile,
    ]);
    return lastJson(r.stdout);
  }

  async destroy(): Promise<void> {
    await this.mesh.cleanup();
    await this.lab.destroy();
  }
}
