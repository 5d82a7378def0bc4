import { describe, expect, it } from 'vitest';
import { frozenList } from '../src/util/frozen-list.js';

describe('frozenList', () => {
  it('holds value(i) for each index and cannot be changed', () => {
    const list = frozenList(4, (i) => i * 3);
    expect(list).toEqual([0, 3, 6, 9]);
    expect(Object.isFrozen(list)).toBe(true);
    expect(() => (list as number[]).push(1)).toThrow(TypeError);
    expect(() => {
      (list as number[])[0] = 7;
    }).toThrow(TypeError);
    expect(frozenList(0, () => 1)).toEqual([]);
  });
});
