// The annotated example config, generated from the schema: every setting with [REQUIRED]/[optional], its
// type, unit, description and default. Required settings get placeholder values; optional ones are commented
// out at their defaults, so the output is valid YAML and, once the placeholders are real, a valid config.
import { stringify } from 'yaml';
import { configTree, envName, type SettingInfo } from './introspect.js';

export interface ExampleOptions {
  /** Render optional settings as active lines (defaults, or example values) instead of comments. */
  readonly activeOptional?: boolean;
}

interface Line {
  readonly indent: number;
  readonly text: string;
  /** Value lines are commented out when their setting is optional; doc lines are always comments. */
  readonly doc: boolean;
}

export function unitOf(s: SettingInfo): string | undefined {
  if (s.meta.unit) return s.meta.unit;
  if (s.key.endsWith('Ms')) return 'milliseconds';
  if (s.key.endsWith('Sec')) return 'seconds';
  return undefined;
}

export function scalarText(v: unknown): string {
  return stringify(v).trimEnd();
}

export function flow(v: unknown): string {
  return Array.isArray(v) ? `[${v.map(scalarText).join(', ')}]` : scalarText(v);
}

/** The comment lines above a setting. */
export function docLines(s: SettingInfo): string[] {
  const label = s.required ? '[REQUIRED]' : '[optional]';
  const lines = [`${label} ${s.key} (${s.typeLabel}): ${s.meta.description}`];
  for (const d of s.meta.details ?? []) lines.push(`  ${d}`);
  if (s.kind === 'array' && (s.min !== undefined || s.max !== undefined))
    lines.push(s.max === undefined ? `Items: at least ${s.min}` : `Items: ${s.min ?? 0} to ${s.max}`);
  const unit = unitOf(s);
  if (unit) lines.push(`Unit: ${unit}`);
  if (s.kind === 'enum' && s.enumValues) lines.push(`One of: ${s.enumValues.join(', ')}`);
  if (s.hasDefault && s.kind !== 'object') lines.push(`Default: ${flow(s.defaultValue)}`);
  else if (!s.required && !s.hasDefault) lines.push('Default: unset');
  if (s.hasDefault && s.meta.example !== undefined && !s.children) lines.push(`Example: ${flow(s.meta.example)}`);
  if (!s.path.includes('[]') && s.kind !== 'object') lines.push(`Environment: ${envName(s.path)}`);
  return lines;
}

function exampleValue(s: SettingInfo, active: boolean): unknown {
  if (s.required || !s.hasDefault) return s.meta.example;
  if (active && s.kind === 'array' && Array.isArray(s.defaultValue) && s.defaultValue.length === 0)
    return s.meta.example ?? s.defaultValue;
  return s.defaultValue;
}

function renderSetting(s: SettingInfo, indent: number, opts: ExampleOptions, commented: boolean): Line[] {
  const isCommented = commented || (!s.required && !opts.activeOptional);
  const out: Line[] = docLines(s).map((text) => ({ indent, text, doc: true }));
  const value = (text: string, at = indent): Line => ({
    indent: at,
    text: isCommented ? `# ${text}` : text,
    doc: false,
  });
  if (s.kind === 'object' && s.children) {
    out.push(value(`${s.key}:`));
    s.children.forEach((c, i) => {
      if (i > 0) out.push({ indent: 0, text: '', doc: true });
      out.push(...renderSetting(c, indent + 2, opts, isCommented));
    });
    return out;
  }
  if (s.kind === 'array' && s.children) {
    // A list of mappings: show one element with every field documented.
    out.push(value(`${s.key}:`));
    const element = s.children.flatMap((c) => renderSetting(c, indent + 4, opts, isCommented));
    const first = element.findIndex((l) => !l.doc);
    const lines = element.map((l, i) => {
      if (i !== first) return l;
      const bare = isCommented ? l.text.slice(2) : l.text;
      return { ...l, indent: indent + 2, text: isCommented ? `# - ${bare}` : `- ${bare}` };
    });
    // Docs of the first field go above the dash, at its indentation.
    out.push(...lines.map((l, i) => (i < first ? { ...l, indent: indent + 2 } : l)));
    return out;
  }
  const v = exampleValue(s, opts.activeOptional === true);
  if (Array.isArray(v) && v.length > 0) {
    out.push(value(`${s.key}:`));
    for (const item of v) out.push(value(`- ${scalarText(item)}`, indent + 2));
  } else out.push(value(`${s.key}: ${scalarText(v)}`));
  return out;
}

const header = [
  'tunmesh configuration, generated from the schema by `tunmesh config example`.',
  '',
  '[REQUIRED] settings must be set: replace their placeholder values.',
  '[optional] settings are commented out at their defaults; uncomment a line (and its section) to change it.',
  'Relative file paths are relative to the directory of this file.',
  'Environment variables override settings: TUNMESH_<SECTION>__<KEY>, e.g.',
  '  TUNMESH_NODE__NAME=node-b TUNMESH_CLUSTER__BOOTSTRAP=https://198.18.0.1:4567,https://198.18.0.2:4567',
  'Check a config with `tunmesh config check FILE`.',
];

export function renderExample(opts: ExampleOptions = {}): string {
  const lines: Line[] = header.map((text) => ({ indent: 0, text, doc: true }));
  for (const section of configTree()) {
    lines.push({ indent: 0, text: '', doc: true });
    lines.push(...renderSetting(section, 0, opts, false));
  }
  return (
    lines
      .map((l) => (l.text === '' ? '' : ' '.repeat(l.indent) + (l.doc ? `# ${l.text}`.trimEnd() : l.text)))
      .join('\n') + '\n'
  );
}
