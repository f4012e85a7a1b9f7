/** Label and field selectors, as the Kubernetes API parses them. */
import type { KubeObject } from './types.ts';

type Requirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };

/** A parsed selector: matches a map of labels or fields. */
export type Matcher = (values: (key: string) => string | undefined) => boolean;

/** Splits on commas that are not inside parentheses. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else current += ch;
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter(Boolean);
}

function parseRequirement(term: string): Requirement {
  let m = /^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (m) return { op: m[2] as 'in' | 'notin', key: m[1], values: m[3].split(',').map((v) => v.trim()).filter(Boolean) };
  m = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)$/.exec(term);
  if (m) return { op: m[2] === '!=' ? 'neq' : 'eq', key: m[1], value: m[3] };
  m = /^!\s*([^\s!=]+)$/.exec(term);
  if (m) return { op: 'notexists', key: m[1] };
  m = /^([^\s!=()]+)$/.exec(term);
  if (m) return { op: 'exists', key: m[1] };
  throw new SyntaxError(`unable to parse requirement: ${JSON.stringify(term)}`);
}

/** Parses a label or field selector string; an empty selector matches everything. */
export function parseSelector(text: string | undefined): Matcher {
  if (!text) return () => true;
  const reqs = splitTerms(text).map(parseRequirement);
  return (get) =>
    reqs.every((req) => {
      const v = get(req.key);
      switch (req.op) {
        case 'eq':
          return v === req.value;
        case 'neq':
          return v !== req.value;
        case 'in':
          return v !== undefined && req.values.includes(v);
        case 'notin':
          return v === undefined || !req.values.includes(v);
        case 'exists':
          return v !== undefined;
        case 'notexists':
          return v === undefined;
      }
    });
}

/** Value of a dot-path field of an object as a string (for field selectors). */
export function fieldValue(obj: KubeObject, path: string): string | undefined {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) {
    // The API treats an unset string field as "" for selectors (e.g. spec.nodeName=).
    return path === 'spec.nodeName' ? '' : undefined;
  }
  return typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

/** A label-selector object (matchLabels/matchExpressions) as a matcher on labels. */
export function matchesLabelSelector(
  selector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> } | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const v = l[e.key];
    if (e.operator === 'In' && !(v !== undefined && e.values?.includes(v))) return false;
    if (e.operator === 'NotIn' && v !== undefined && e.values?.includes(v)) return false;
    if (e.operator === 'Exists' && v === undefined) return false;
    if (e.operator === 'DoesNotExist' && v !== undefined) return false;
  }
  return true;
}
