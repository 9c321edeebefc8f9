// Config problems as (key path, rule) pairs. A ConfigError carries every problem found, so one run of
// `tunmesh config check` shows them all.
import type { ZodIssue } from 'zod';
import { TunmeshError } from '../base/errors.js';

export interface ConfigIssue {
  /** Key path like `node.addresses[1]`, or `line 3, column 5` for YAML syntax, or `(root)`. */
  readonly path: string;
  /** What the value must be; never contains secret file content. */
  readonly rule: string;
}

export type ConfigErrorCode = 'CONFIG_INVALID' | 'CONFIG_UNREADABLE';

export class ConfigError extends TunmeshError {
  readonly issues: readonly ConfigIssue[];
  readonly file: string | undefined;
  constructor(
    code: ConfigErrorCode,
    issues: readonly ConfigIssue[],
    opts: { file?: string | undefined; hint?: string; cause?: unknown } = {},
  ) {
    const where = opts.file === undefined ? 'configuration' : opts.file;
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super(code, `${where}: ${count}\n${formatIssues(issues)}`, {
      hint: opts.hint ?? 'fix the settings above; `tunmesh config example` lists every setting with its rules',
      cause: opts.cause,
    });
    this.name = 'ConfigError';
    this.issues = issues;
    this.file = opts.file;
  }
}

/** One issue per line: `<path>: <rule>`. */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.rule}`).join('\n');
}

/** `['node', 'addresses', 1]` -> `node.addresses[1]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out === '' ? '(root)' : out;
}

const typeNames: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping of keys to values',
};

function closest(word: string, candidates: readonly string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const cur = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = cur;
      }
    }
    return row[b.length]!;
  };
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = dist(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return bestDist <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/**
 * Turns zod issues into config issues. `allowedKeys(path)` lists the keys valid at an object path, for
 * "unknown key" hints.
 */
export function issuesFromZod(
  zodIssues: readonly ZodIssue[],
  allowedKeys: (path: readonly (string | number)[]) => readonly string[],
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of zodIssues) {
    const path = formatPath(issue.path);
    switch (issue.code) {
      case 'unrecognized_keys': {
        const allowed = allowedKeys(issue.path);
        for (const key of issue.keys) {
          const guess = closest(key, allowed);
          const hint = guess ? `did you mean "${guess}"? ` : '';
          out.push({
            path: formatPath([...issue.path, key]),
            rule: `unknown key; ${hint}allowed here: ${allowed.join(', ')}`,
          });
        }
        break;
      }
      case 'invalid_type': {
        const expected = typeNames[issue.expected] ?? issue.expected;
        if (issue.received === 'undefined') out.push({ path, rule: 'is required' });
        else if (issue.received === 'null')
          out.push({ path, rule: `has no value: give ${expected} or remove the key` });
        else out.push({ path, rule: `must be ${expected} (got ${typeNames[issue.received] ?? issue.received})` });
        break;
      }
      case 'invalid_enum_value':
        out.push({ path, rule: `must be one of: ${issue.options.map(String).join(', ')}` });
        break;
      default:
        out.push({ path, rule: issue.message });
    }
  }
  return out;
}
