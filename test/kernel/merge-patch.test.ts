import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergePatch } from '../../kernel/merge-patch.js';

test('a patch merges objects key by key, null removes a key, anything else replaces', () => {
  assert.deepEqual(
    mergePatch(
      { a: 1, b: { c: 2, d: 3 }, e: [1, 2], f: 'x' },
      { a: null, b: { c: null, g: 4 }, e: [3], h: { i: 1 } },
    ),
    { b: { d: 3, g: 4 }, e: [3], f: 'x', h: { i: 1 } },
  );
});

test('a "__proto__" key in a patch is data, never the prototype of the result', () => {
  const patch = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, never>;
  const merged = mergePatch({}, patch);
  assert.equal(Object.getPrototypeOf(merged), Object.prototype);
  assert.deepEqual(Object.keys(merged).sort(), ['__proto__', 'a']);
  assert.equal(({} as { polluted?: boolean }).polluted, undefined);
});
