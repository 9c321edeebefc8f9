// Loading: read the YAML file, apply TUNMESH_* overrides, validate against the schema, make file paths
// absolute (relative ones are relative to the config file's directory) and check those files exist.
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { applyEnvOverrides, configPathEnv } from './env.js';
import { ConfigError, formatPath, issuesFromZod, type ConfigIssue } from './errors.js';
import { configTree, type SettingInfo } from './introspect.js';
import { configSchema, type Config } from './schema.js';

export const defaultConfigPath = '/etc/tunmesh/config.yaml';

/** The config file named by TUNMESH_CONFIG, else /etc/tunmesh/config.yaml. */
export function configPathFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env[configPathEnv] || defaultConfigPath;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Calls `visit` for every file setting present in `data` (raw or parsed), with a setter to replace it. */
function forEachFile(
  settings: readonly SettingInfo[],
  data: unknown,
  path: readonly (string | number)[],
  visit: (path: readonly (string | number)[], value: string, set: (v: string) => void) => void,
): void {
  if (!isRecord(data)) return;
  for (const s of settings) {
    const v = data[s.key];
    const p = [...path, s.key];
    if (s.meta.file && typeof v === 'string' && v !== '') visit(p, v, (nv) => (data[s.key] = nv));
    else if (s.kind === 'object' && s.children) forEachFile(s.children, v, p, visit);
    else if (s.kind === 'array' && s.children && Array.isArray(v))
      v.forEach((el, i) => forEachFile(s.children!, el, [...p, i], visit));
  }
}

function fileIssue(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return `${file} is not a regular file`;
    accessSync(file, fsConstants.R_OK);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `file ${file} does not exist`;
    if (code === 'EACCES') return `file ${file} is not readable by this user (uid ${process.getuid?.() ?? '?'})`;
    return `file ${file} cannot be read (${code ?? 'error'})`;
  }
}

function allowedKeysAt(path: readonly (string | number)[]): readonly string[] {
  let level: readonly SettingInfo[] = configTree();
  for (const seg of path) {
    if (typeof seg === 'number') continue;
    level = level.find((s) => s.key === seg)?.children ?? [];
  }
  return level.map((s) => s.key);
}

export interface ValidateOptions {
  /** Directory that relative file paths are relative to. */
  readonly baseDir: string;
  /** Check that named files exist (default true). */
  readonly checkFiles?: boolean;
  /** Setting path -> env var that set it, to say where a bad value came from. */
  readonly sources?: ReadonlyMap<string, string>;
}

/** Validates parsed YAML data; returns the config (paths absolute) or every issue found. */
export function validateConfigData(
  data: unknown,
  opts: ValidateOptions,
): { ok: true; config: Config } | { ok: false; issues: ConfigIssue[]; unreadableOnly: boolean } {
  const tree = configTree();
  const parsed = configSchema.safeParse(data);
  const issues = parsed.success ? [] : issuesFromZod(parsed.error.issues, allowedKeysAt);
  if (opts.sources?.size) {
    for (const [i, issue] of issues.entries()) {
      for (const [setting, envVar] of opts.sources)
        if (issue.path === setting || issue.path.startsWith(`${setting}.`) || issue.path.startsWith(`${setting}[`))
          issues[i] = { ...issue, rule: `${issue.rule} (set by ${envVar})` };
    }
  }
  const fileIssues: ConfigIssue[] = [];
  if (opts.checkFiles !== false) {
    const flagged = new Set(issues.map((i) => i.path));
    forEachFile(tree, data, [], (path, value) => {
      const p = formatPath(path);
      if (flagged.has(p)) return;
      const problem = fileIssue(resolve(opts.baseDir, value));
      if (problem) fileIssues.push({ path: p, rule: problem });
    });
  }
  if (!parsed.success || fileIssues.length)
    return { ok: false, issues: [...issues, ...fileIssues], unreadableOnly: issues.length === 0 };
  const config = parsed.data;
  forEachFile(tree, config, [], (_path, value, set) => {
    if (!isAbsolute(value)) set(resolve(opts.baseDir, value));
  });
  return { ok: true, config };
}

/** YAML text -> plain data, or issues with line and column. Never throws. */
export function parseYaml(text: string): { ok: true; data: unknown } | { ok: false; issues: ConfigIssue[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    return {
      ok: false,
      issues: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const message = e.message.split(/ at line \d+, column \d+/)[0]!.split('\n')[0]!;
        return { path: pos ? `line ${pos.line}, column ${pos.col}` : '(yaml)', rule: `YAML syntax error: ${message}` };
      }),
    };
  }
  try {
    return { ok: true, data: doc.toJS({ maxAliasCount: 100 }) as unknown };
  } catch (e) {
    return { ok: false, issues: [{ path: '(yaml)', rule: `YAML error: ${(e as Error).message}` }] };
  }
}

/**
 * Loads and validates the config file at `path`, with TUNMESH_* overrides from `env`.
 * Throws ConfigError (CONFIG_UNREADABLE or CONFIG_INVALID) carrying every issue found.
 */
export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const rule =
      code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code})`;
    throw new ConfigError('CONFIG_UNREADABLE', [{ path: file, rule }], {
      file,
      hint: `pass the config file path (or set ${configPathEnv}); \`tunmesh config example\` prints a template`,
    });
  }
  const yaml = parseYaml(text);
  if (!yaml.ok) throw new ConfigError('CONFIG_INVALID', yaml.issues, { file });
  // An empty file is an empty mapping, so the missing required settings are reported one by one.
  const overridden = applyEnvOverrides(yaml.data ?? {}, env);
  const result = validateConfigData(overridden.data, { baseDir: dirname(file), sources: overridden.sources });
  const issues = [...overridden.issues, ...(result.ok ? [] : result.issues)];
  if (issues.length) {
    const unreadable = !result.ok && result.unreadableOnly && overridden.issues.length === 0;
    throw new ConfigError(unreadable ? 'CONFIG_UNREADABLE' : 'CONFIG_INVALID', issues, { file });
  }
  return (result as { ok: true; config: Config }).config;
}
