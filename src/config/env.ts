// Environment overrides: TUNMESH_<SECTION>__<KEY>=value sets <section>.<key>. Segments are separated by `__`
// and matched against the schema keys case-insensitively with `_` ignored, so TUNMESH_TUN__MTU and
// TUNMESH_WIREGUARD__PERSISTENT_KEEPALIVE_SEC both work. Values are coerced by the setting's type: numbers and
// booleans from text, lists from comma-separated text or JSON, mappings and lists of mappings from JSON.
import type { ConfigIssue } from './errors.js';
import { configTree, type BaseKind, type SettingInfo } from './introspect.js';

export const envPrefix = 'TUNMESH_';
/** Names the config file; not an override. */
export const configPathEnv = 'TUNMESH_CONFIG';

export interface EnvOverrides {
  /** The YAML data with overrides applied (a copy where changed). */
  readonly data: unknown;
  /** Dotted setting path -> the variable that set it, for error messages. */
  readonly sources: ReadonlyMap<string, string>;
  readonly issues: readonly ConfigIssue[];
}

const normalize = (s: string): string => s.replace(/_/g, '').toLowerCase();

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function coerceScalar(text: string, kind: BaseKind | undefined): unknown {
  const t = text.trim();
  if ((kind === 'integer' || kind === 'number') && /^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (kind === 'boolean') {
    if (/^(true|1|yes|on)$/i.test(t)) return true;
    if (/^(false|0|no|off)$/i.test(t)) return false;
  }
  return text;
}

type Coerced = { ok: true; value: unknown } | { ok: false; rule: string };

function coerce(text: string, setting: SettingInfo): Coerced {
  const t = text.trim();
  const json = (): Coerced => {
    try {
      return { ok: true, value: JSON.parse(t) as unknown };
    } catch (e) {
      return { ok: false, rule: `is not valid JSON (${(e as Error).message})` };
    }
  };
  if (setting.kind === 'object') return json();
  if (setting.kind === 'array') {
    if (t.startsWith('[')) return json();
    if (setting.elementKind === 'object')
      return { ok: false, rule: 'must be a JSON list of mappings, e.g. [{"name": …}]' };
    const items = t === '' ? [] : t.split(',').map((s) => s.trim());
    return { ok: true, value: items.map((s) => coerceScalar(s, setting.elementKind)) };
  }
  return { ok: true, value: coerceScalar(text, setting.kind) };
}

/** Applies every TUNMESH_* override in `env` to `data` (the parsed YAML). */
export function applyEnvOverrides(data: unknown, env: NodeJS.ProcessEnv): EnvOverrides {
  const tree = configTree();
  const sources = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  let root: unknown = data;
  const names = Object.keys(env)
    .filter((n) => n.startsWith(envPrefix) && n !== configPathEnv)
    .sort();
  for (const name of names) {
    const value = env[name];
    if (value === undefined) continue;
    const segs = name.slice(envPrefix.length).split('__');
    // A single segment that names no section is some other TUNMESH_ variable, not an override.
    if (segs.length === 1 && !tree.some((s) => normalize(s.key) === normalize(segs[0]!))) continue;
    let level: readonly SettingInfo[] = tree;
    const keys: string[] = [];
    let target: SettingInfo | undefined;
    for (const [i, seg] of segs.entries()) {
      const found = level.find((s) => normalize(s.key) === normalize(seg));
      if (!found) {
        const at = keys.length ? ` in ${keys.join('.')}` : '';
        issues.push({
          path: name,
          rule: `no such setting${at}: "${seg}" matches none of ${level.map((s) => s.key).join(', ')}`,
        });
        target = undefined;
        break;
      }
      keys.push(found.key);
      target = found;
      if (i < segs.length - 1 && found.kind !== 'object') {
        const what =
          found.kind === 'array'
            ? `a JSON list in ${name
                .split('__')
                .slice(0, i + 1)
                .join('__')}`
            : 'nothing';
        issues.push({ path: name, rule: `${keys.join('.')} has no sub-settings; set ${what}` });
        target = undefined;
        break;
      }
      level = found.children ?? [];
    }
    if (!target) continue;
    const coerced = coerce(value, target);
    if (!coerced.ok) {
      issues.push({ path: name, rule: coerced.rule });
      continue;
    }
    if (root === undefined || root === null) root = {};
    if (!isRecord(root)) break; // zod reports the non-mapping root; overrides cannot apply.
    root = structuredClone(root);
    let obj = root as Record<string, unknown>;
    let blocked = false;
    for (const k of keys.slice(0, -1)) {
      const next = obj[k];
      if (next === undefined || next === null) obj[k] = {};
      else if (!isRecord(next)) {
        blocked = true; // The YAML has a non-mapping here; its own type error is reported.
        break;
      }
      obj = obj[k] as Record<string, unknown>;
    }
    if (blocked) continue;
    obj[keys[keys.length - 1]!] = coerced.value;
    sources.set(keys.join('.'), name);
  }
  return { data: root, sources, issues };
}
