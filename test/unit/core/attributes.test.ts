import { describe, expect, it } from 'vitest';
import { parseAttributeList } from '../../../harness/core/attributes.ts';

describe('parseAttributeList', () => {
  it('keeps key=value pairs in order, trims them, and skips entries without =', () => {
    expect(parseAttributeList(' a = 1 ,broken, b=2=3')).toEqual([
      ['a', '1'],
      ['b', '2=3'],
    ]);
    expect(parseAttributeList(null)).toEqual([]);
  });
});
