import { describe, expect, it } from 'vitest';
import { median } from '../src/index.js';

describe('median', () => {
  it('takes the middle value, or the mean of the two middle values, in numeric order', () => {
    expect(median([])).toBe(0);
    expect(median([4])).toBe(4);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([10, 2, 1, 9])).toBe(5.5); // numeric order, not string order ("10" < "2")
    expect(median([-1.5, -3, 0.25])).toBe(-1.5);
  });

  it('leaves its input as it was', () => {
    const values = [5, 1, 4];
    median(values);
    expect(values).toEqual([5, 1, 4]);
  });
});
