/** k6's execution segments and striping, against k6's own documented arithmetic (lib/execution_segment.go's comments, the k6 docs) and k6-operator's flags. */
import { describe, expect, it } from 'vitest';
import { iterationsOf, operatorSegmentFlags, parseFraction, parseSegment, parseSequence, scaleInt, segmentText, stripeOf, stripes } from '../../../../harness/traffic/k6/segments.ts';

const take = (it: Iterable<number>) => [...it];

describe('execution segments', () => {
  it('reads boundaries as k6 does: fractions, decimals, percentages; a lone value is 0:value', () => {
    expect(parseFraction('1/3')).toEqual({ n: 1, d: 3 });
    expect(parseFraction('2/4')).toEqual({ n: 1, d: 2 });
    expect(parseFraction('0.25')).toEqual({ n: 1, d: 4 });
    expect(parseFraction('25%')).toEqual({ n: 1, d: 4 });
    expect(segmentText(parseSegment('1/3'))).toBe('0:1/3');
    expect(segmentText(parseSegment('0.2:2/3'))).toBe('1/5:2/3');
    expect(parseSequence('1/3,2/3').map(segmentText)).toEqual(['0:1/3', '1/3:2/3', '2/3:1']);
    expect(() => parseFraction('4/3')).toThrow(/from 0 to 1.*"4\/3"/);
    expect(() => parseSegment('2/3:1/3')).toThrow(/start to be below its end/);
    expect(() => parseSequence('0,2/3,1/3,1')).toThrow(/rising boundaries/);
  });

  it("stripes 0:1/2, 1/2:3/4, 3/4:1 as k6's documentation shows: 0 2 4 …, 1 5 9 …, 3 7 11 …", () => {
    const [a, b, c] = stripes(parseSequence('0,1/2,3/4,1'));
    expect(take(iterationsOf(a, 12))).toEqual([0, 2, 4, 6, 8, 10]);
    expect(take(iterationsOf(b, 12))).toEqual([1, 5, 9]);
    expect(take(iterationsOf(c, 12))).toEqual([3, 7, 11]);
    // ScaleInt64 of 1 … 12, from the same comment.
    const values = Array.from({ length: 12 }, (_, i) => i + 1);
    expect(values.map((v) => scaleInt(a, v))).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]);
    expect(values.map((v) => scaleInt(b, v))).toEqual([0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3]);
    expect(values.map((v) => scaleInt(c, v))).toEqual([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3]);
    expect(a).toMatchObject({ start: 0, offsets: [2, 2], lcd: 4 });
  });

  it('gives three equal runners every third iteration (0:1/3, 1/3:2/3, 2/3:1, the docs’ three-machine split)', () => {
    const seq = parseSequence('0,1/3,2/3,1');
    expect(stripes(seq).map((s) => take(iterationsOf(s, 9)))).toEqual([
      [0, 3, 6],
      [1, 4, 7],
      [2, 5, 8],
    ]);
    // The runner's segment found in the shared sequence, and alone (k6 fills it out to 0:1/3, 1/3:1).
    expect(take(iterationsOf(stripeOf(parseSegment('1/3:2/3'), seq), 9))).toEqual([1, 4, 7]);
    expect(take(iterationsOf(stripeOf(parseSegment('0:1/3')), 9))).toEqual([1, 4, 7]);
  });

  it('splits every plan exactly: the runners of a full sequence run each global iteration once, their counts sum to the plan', () => {
    for (const seqText of ['0,1', '0,1/2,1', '0,1/3,2/3,1', '0,1/4,2/4,3/4,1', '0,1/5,2/5,3/5,4/5,1', '0,1/7,2/7,3/7,4/7,5/7,6/7,1', '0,3/5,2/3,1', '0,1/10,1/2,0.95,1']) {
      const all = stripes(parseSequence(seqText));
      for (const planned of [0, 1, 2, 3, 7, 29, 100, 101, 1000, 1234]) {
        expect(all.reduce((sum, s) => sum + scaleInt(s, planned), 0), `${seqText} of ${planned}`).toBe(planned);
        const owned = all.flatMap((s) => take(iterationsOf(s, planned))).sort((x, y) => x - y);
        expect(owned, `${seqText} of ${planned}`).toEqual(Array.from({ length: planned }, (_, i) => i));
        for (const s of all) expect(scaleInt(s, planned)).toBe(take(iterationsOf(s, planned)).length);
      }
    }
  });

  it("builds k6-operator's flags for runner i of N (1-based, unreduced boundaries)", () => {
    expect(operatorSegmentFlags(1, 4)).toEqual(['--execution-segment=0:1/4', '--execution-segment-sequence=0,1/4,2/4,3/4,1']);
    expect(operatorSegmentFlags(3, 3)).toEqual(['--execution-segment=2/3:1', '--execution-segment-sequence=0,1/3,2/3,1']);
    expect(operatorSegmentFlags(1, 1)).toEqual(['--execution-segment=0:1', '--execution-segment-sequence=0,1']);
    expect(() => operatorSegmentFlags(4, 3)).toThrow(/from 1 to 3, got 4/);
  });
});
