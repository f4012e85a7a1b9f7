import { describe, expect, it } from 'vitest';
import { parseMatcher } from '../../../../harness/twin/alb/matcher.ts';

function matches(text: string, status: number): boolean {
  const m = parseMatcher(text);
  if (!m.ok) throw new Error(m.error);
  return m.matches(status);
}

describe('parseMatcher', () => {
  it('matches a single code only', () => {
    expect(matches('200', 200)).toBe(true);
    expect(matches('200', 204)).toBe(false);
  });

  it('matches an inclusive range', () => {
    expect(matches('200-299', 200)).toBe(true);
    expect(matches('200-299', 299)).toBe(true);
    expect(matches('200-299', 300)).toBe(false);
  });

  it('matches lists of codes and ranges, with spaces', () => {
    expect(matches('200,204', 204)).toBe(true);
    expect(matches('200,204', 201)).toBe(false);
    expect(matches('200-202, 301', 301)).toBe(true);
    expect(matches('200-202, 301', 302)).toBe(false);
  });

  it('rejects malformed text and codes outside 200-499, saying what came', () => {
    for (const bad of ['', 'ok', '20', '200-', '100', '200-500', '299-200', '200;204']) {
      const m = parseMatcher(bad);
      expect(m.ok, bad).toBe(false);
      if (!m.ok) expect(m.error).toContain('got');
    }
  });
});
