/** The `key=value,key=value` format of the `alb.ingress.kubernetes.io/target-group-attributes` annotation. */

/** Parses the annotation into [key, value] pairs in order; entries without `=` are skipped. */
export function parseAttributeList(text: string | null | undefined): Array<[string, string]> {
  return (text ?? '')
    .split(',')
    .map((p) => p.split('='))
    .filter(([k, ...v]) => k?.trim() && v.length)
    .map(([k, ...v]) => [k.trim(), v.join('=').trim()]);
}
