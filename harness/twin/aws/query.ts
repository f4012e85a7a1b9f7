/** The AWS Query protocol as the SDK v3 and the aws CLI speak it: form parameters in, XML out. */

/** Form parameters of one request. */
export type QueryParams = Map<string, string>;

/** Parses an `application/x-www-form-urlencoded` body. */
export function parseQuery(body: string): QueryParams {
  return new Map(new URLSearchParams(body));
}

/** `Prefix.1`, `Prefix.2`, … in order (ELBv2 passes `Names.member` as prefix, EC2 `InstanceId`). */
export function listParam(params: QueryParams, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; params.has(`${prefix}.${i}`); i++) out.push(params.get(`${prefix}.${i}`)!);
  return out;
}

/** Structures `Prefix.N.Field` → one record per N, in order. */
export function structListParam(params: QueryParams, prefix: string): Array<Record<string, string>> {
  const byIndex = new Map<number, Record<string, string>>();
  const head = `${prefix}.`;
  for (const [key, value] of params) {
    if (!key.startsWith(head)) continue;
    const rest = key.slice(head.length);
    const dot = rest.indexOf('.');
    if (dot < 0) continue;
    const index = Number(rest.slice(0, dot));
    if (!Number.isInteger(index) || index < 1) continue;
    const record = byIndex.get(index) ?? {};
    record[rest.slice(dot + 1)] = value;
    byIndex.set(index, record);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for XML. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** A text element; omitted when the value is undefined or null. */
export function text(tag: string, value: string | number | boolean | undefined | null): string {
  if (value === undefined || value === null) return '';
  return `<${tag}>${escapeXml(String(value))}</${tag}>`;
}

/** An element around already-built children; `<tag/>` when there are none. */
export function el(tag: string, ...children: string[]): string {
  const inner = children.join('');
  return inner ? `<${tag}>${inner}</${tag}>` : `<${tag}/>`;
}

/** Request ids shaped like AWS's (UUIDs), from a counter so runs repeat. */
export function requestIds(seed: number): () => string {
  let n = 0;
  const prefix = (seed >>> 0).toString(16).padStart(8, '0');
  return () => `${prefix}-0000-4000-8000-${(n++).toString(16).padStart(12, '0')}`;
}

/** A Query API answer: HTTP status and XML body. */
export interface QueryResponse {
  status: number;
  body: string;
}
