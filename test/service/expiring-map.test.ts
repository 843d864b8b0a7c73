import assert from "node:assert/strict";
import { evictOldest } from "../../src/service/expiring-map.js";

describe("evictOldest", function () {
  it("drops the oldest insertion once a map or set is at its limit, and nothing below it", function () {
    const map = new Map<string, number>([
      ["a", 1],
      ["b", 2],
    ]);
    evictOldest(map, 3);
    assert.deepEqual([...map.keys()], ["a", "b"]);
    map.set("c", 3);
    evictOldest(map, 3);
    map.set("d", 4);
    assert.deepEqual([...map.keys()], ["b", "c", "d"], "a went, the rest stays");
    const set = new Set([1, 2, 3]);
    evictOldest(set, 3);
    assert.deepEqual([...set], [2, 3]);
    evictOldest(new Set<number>(), 0);
  });
});
