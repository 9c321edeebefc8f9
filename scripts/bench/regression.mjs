// R27: a bench run against a stored baseline (scripts/bench/baseline.json: a quiet run on the same machine
// kind). A tunmesh figure that is more than `tolerance` worse than the baseline is a regression; figures
// from another machine kind are not compared (throughput depends on the CPU more than on our code).

/** The figures compared, per tunmesh system of the run. */
export const regressionMetrics = [
  { key: 'tcp1_gbps', label: 'TCP 1 stream Gbit/s', pick: (s) => s.tcp1?.gbps, higherIsBetter: true },
  { key: 'tcp4_gbps', label: 'TCP 4 streams Gbit/s', pick: (s) => s.tcp4?.gbps, higherIsBetter: true },
  { key: 'cpu_s_per_gb', label: 'CPU-s per GB (TCP 1)', pick: (s) => s.tcp1?.vpn_cpu_s_per_gb, higherIsBetter: false },
];

const isTunmesh = (s) => typeof s.system === 'string' && s.system.startsWith('tunmesh-') && s.error === undefined;

/** The baseline file's content for a run (its JSON as report.mjs writes it). */
export function baselineFrom(run) {
  const figures = {};
  for (const s of run.systems.filter(isTunmesh)) {
    figures[s.system] = Object.fromEntries(
      regressionMetrics.map((m) => [m.key, m.pick(s)]).filter(([, v]) => typeof v === 'number' && v > 0),
    );
  }
  return { stamp: run.stamp, machine: { cpu: run.machine.cpu, vcpus: run.machine.vcpus }, figures };
}

/**
 * Compares `run` with `baseline`. Returns { comparable, reason?, rows }, a row per figure present in both:
 * { system, key, label, base, now, change (now/base − 1), regressed }.
 */
export function compareWithBaseline(baseline, run, tolerance = 0.2) {
  if (baseline.machine.cpu !== run.machine.cpu || baseline.machine.vcpus !== run.machine.vcpus)
    return {
      comparable: false,
      reason: `baseline from ${baseline.machine.cpu} × ${baseline.machine.vcpus}, this run on ${run.machine.cpu} × ${run.machine.vcpus}`,
      rows: [],
    };
  const rows = [];
  for (const s of run.systems.filter(isTunmesh)) {
    const base = baseline.figures[s.system];
    if (!base) continue;
    for (const m of regressionMetrics) {
      const b = base[m.key];
      const now = m.pick(s);
      if (typeof b !== 'number' || typeof now !== 'number' || b <= 0) continue;
      const change = now / b - 1;
      const regressed = m.higherIsBetter ? now < b * (1 - tolerance) : now > b * (1 + tolerance);
      rows.push({ system: s.system, key: m.key, label: m.label, base: b, now, change, regressed });
    }
  }
  return { comparable: true, rows };
}
