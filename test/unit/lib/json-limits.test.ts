import { describe, expect, it } from "vitest";
import { findJsonViolation } from "../../../src/lib/json-limits";

const limits = { maxDepth: 4 };

/** An array nested `depth` deep: [[[…]]]. */
function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

describe("JSON limits", () => {
  it("accepts plain JSON up to the depth limit, top-level document counted", () => {
    expect(findJsonViolation({ a: { b: [1, "x", true, null] } }, limits)).toBeNull();
    expect(findJsonViolation(nested(4), limits)).toBeNull();
    expect(findJsonViolation("just a string", limits)).toBeNull();
  });

  it("refuses one level more, naming where", () => {
    expect(findJsonViolation({ data: { list: [{ deep: [] }] } }, limits)).toEqual({
      rule: "depth",
      path: "data.list.0.deep",
      message: "nests deeper than 4 levels",
    });
  });

  it("walks 100,000 levels without recursion", () => {
    expect(findJsonViolation({ data: nested(100_000) }, { maxDepth: 32 })).toMatchObject({ rule: "depth" });
  });

  it("refuses what JSON cannot carry faithfully", () => {
    const cases: [unknown, string, string][] = [
      [{ n: Number.POSITIVE_INFINITY }, "n", "is a number out of range"],
      [{ n: Number.NaN }, "n", "is a number out of range"],
      [JSON.parse('{"a":{"__proto__":{"x":1}}}'), "a.__proto__", "is a key the service does not accept"],
      [{ s: "\ud800" }, "s", "is not well-formed Unicode (a lone surrogate)"],
      [{ "\udc00": 1 }, "?", "is a key that is not well-formed Unicode (a lone surrogate)"],
      [{ when: new Date(0) }, "when", "is not a JSON value"],
      [{ big: 1n }, "big", "is not a JSON value"],
      [{ gone: undefined }, "gone", "is not a JSON value"],
      [{ map: new Map() }, "map", "is not a JSON value"],
    ];
    for (const [value, path, message] of cases) {
      expect(findJsonViolation(value, limits), path).toEqual({ rule: "value", path, message });
    }
  });

  it("accepts objects without a prototype, as structured clone may make them", () => {
    const bare = Object.assign(Object.create(null), { a: 1 });
    expect(findJsonViolation({ bare }, limits)).toBeNull();
  });
});
