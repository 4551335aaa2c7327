import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  matchesPayloadFilter,
  PAYLOAD_FILTER_LIMITS,
  payloadFilterErrors,
} from "../../../src/catalog/payload-filter";
import type { PayloadFilter } from "../../../src/domain/payload-filter";

const matches = (filter: PayloadFilter, data: unknown) => {
  expect(payloadFilterErrors(filter)).toEqual([]);
  return matchesPayloadFilter(filter, data);
};
const leaf = (): PayloadFilter => ({ path: "$.a", exists: true });
const nested = (levels: number): PayloadFilter => (levels === 1 ? leaf() : { not: nested(levels - 1) });
/** An `and` of `groups` ors of `size` leaves: 1 + groups + groups * size nodes. */
const wide = (groups: number, size: number): { and: PayloadFilter[] } => ({
  and: Array.from({ length: groups }, () => ({ or: Array.from({ length: size }, leaf) })),
});

describe("matchesPayloadFilter", () => {
  const order = { id: "ord_1", total: 42.5, status: "paid", tags: ["a", "b"], customer: { tier: "gold" } };

  it("eq compares deeply: object key order is irrelevant, array order is not", () => {
    expect(matches({ path: "$.status", eq: "paid" }, order)).toBe(true);
    expect(matches({ path: "$.status", eq: "open" }, order)).toBe(false);
    expect(matches({ path: "$", eq: { b: [1, { c: null }], a: 1 } }, { a: 1, b: [1, { c: null }] })).toBe(
      true,
    );
    expect(matches({ path: "$", eq: { a: 1 } }, { a: 1, b: 2 })).toBe(false);
    expect(matches({ path: "$.tags", eq: ["b", "a"] }, order)).toBe(false);
    expect(matches({ path: "$.tags", eq: ["a"] }, order)).toBe(false);
    expect(matches({ path: "$.tags", eq: { 0: "a", 1: "b" } }, order)).toBe(false);
    expect(matches({ path: "$.total", eq: "42.5" }, order)).toBe(false);
  });

  it("ne holds for a present, different value only", () => {
    expect(matches({ path: "$.status", ne: "open" }, order)).toBe(true);
    expect(matches({ path: "$.status", ne: "paid" }, order)).toBe(false);
    expect(matches({ path: "$.missing", ne: "paid" }, order)).toBe(false);
  });

  it("in holds when the value deep-equals one of the list", () => {
    expect(matches({ path: "$.status", in: ["open", "paid"] }, order)).toBe(true);
    expect(matches({ path: "$.customer", in: [{ tier: "gold" }] }, order)).toBe(true);
    expect(matches({ path: "$.status", in: ["open"] }, order)).toBe(false);
    expect(matches({ path: "$.missing", in: [null] }, order)).toBe(false);
  });

  it("compares numbers only: a string, null or missing value is never greater or less", () => {
    expect(matches({ path: "$.total", gt: 42 }, order)).toBe(true);
    expect(matches({ path: "$.total", gt: 42.5 }, order)).toBe(false);
    expect(matches({ path: "$.total", gte: 42.5 }, order)).toBe(true);
    expect(matches({ path: "$.total", lt: 50 }, order)).toBe(true);
    expect(matches({ path: "$.total", lte: 42 }, order)).toBe(false);
    for (const value of ["100", null, true, [100], { n: 100 }]) {
      expect(matches({ path: "$.v", gt: 1 }, { v: value })).toBe(false);
      expect(matches({ path: "$.v", lt: 1 }, { v: value })).toBe(false);
    }
    expect(matches({ path: "$.missing", lte: 1 }, order)).toBe(false);
  });

  it("exists counts null as a value", () => {
    expect(matches({ path: "$.v", exists: true }, { v: null })).toBe(true);
    expect(matches({ path: "$.v", exists: false }, { v: null })).toBe(false);
    expect(matches({ path: "$.v", exists: false }, {})).toBe(true);
    expect(matches({ path: "$.v.w", exists: false }, { v: "text" })).toBe(true);
  });

  it("a missing value fails every operator but exists:false", () => {
    const path = "$.customer.name";
    const filters: PayloadFilter[] = [
      { path, eq: null },
      { path, ne: null },
      { path, in: [null, "x"] },
      { path, gt: 0 },
      { path, gte: 0 },
      { path, lt: 0 },
      { path, lte: 0 },
      { path, exists: true },
    ];
    for (const filter of filters) expect(matches(filter, order), JSON.stringify(filter)).toBe(false);
    expect(matches({ path, exists: false }, order)).toBe(true);
  });

  it("reads quoted names, indexes and the whole data", () => {
    const data = { "a.b": { "x y": 1 }, items: [{ id: "i0" }, { id: "i1" }], "0": "zero" };
    expect(matches({ path: '$["a.b"]["x y"]', eq: 1 }, data)).toBe(true);
    expect(matches({ path: "$.items[1].id", eq: "i1" }, data)).toBe(true);
    expect(matches({ path: '$["items"][0]["id"]', eq: "i0" }, data)).toBe(true);
    expect(matches({ path: "$.items[2]", exists: false }, data)).toBe(true);
    expect(matches({ path: '$["0"]', eq: "zero" }, data)).toBe(true);
    expect(matches({ path: "$[0]", exists: false }, data)).toBe(true);
    expect(matches({ path: "$.items.length", exists: false }, data)).toBe(true);
    expect(matches({ path: "$", eq: [1, 2] }, [1, 2])).toBe(true);
    expect(matches({ path: "$[1]", eq: 2 }, [1, 2])).toBe(true);
  });

  it("reads own properties only: __proto__ and constructor are plain names", () => {
    const withProto = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "c"}');
    expect(matches({ path: "$.__proto__.polluted", eq: true }, withProto)).toBe(true);
    expect(matches({ path: '$["__proto__"]', eq: { polluted: true } }, withProto)).toBe(true);
    expect(matches({ path: "$.constructor", eq: "c" }, withProto)).toBe(true);
    for (const path of ["$.__proto__", "$.constructor", "$.toString", "$.hasOwnProperty", "$.a.__proto__"]) {
      expect(matches({ path, exists: false }, { a: {} }), path).toBe(true);
    }
    expect(matches({ path: "$.__proto__", exists: false }, [])).toBe(true);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it("combines with and, or, not", () => {
    const paidGold: PayloadFilter = {
      and: [
        { path: "$.status", eq: "paid" },
        {
          or: [
            { path: "$.customer.tier", eq: "gold" },
            { path: "$.total", gte: 1000 },
          ],
        },
        { not: { path: "$.tags", eq: [] } },
      ],
    };
    expect(matches(paidGold, order)).toBe(true);
    expect(matches(paidGold, { ...order, customer: { tier: "silver" } })).toBe(false);
    expect(matches(paidGold, { ...order, customer: { tier: "silver" }, total: 1000 })).toBe(true);
    expect(matches(paidGold, { ...order, tags: [] })).toBe(false);
  });

  it("gives the same answer on every call of a filter (paths are parsed once)", () => {
    const filter: PayloadFilter = { path: "$.a[0]", eq: 1 };
    expect([{ a: [1] }, { a: [2] }, { a: [1] }].map((data) => matchesPayloadFilter(filter, data))).toEqual([
      true,
      false,
      true,
    ]);
  });

  it("throws on a path the validator refuses", () => {
    expect(() => matchesPayloadFilter({ path: "a", eq: 1 }, {})).toThrow(/payload filter path "a"/);
  });
});

describe("payloadFilterErrors", () => {
  const errors = (input: unknown) => payloadFilterErrors(input);

  it("accepts every kind of node", () => {
    const all: PayloadFilter = {
      or: [
        { path: "$", eq: { a: [1, "x", null, true] } },
        { path: "$.a", ne: 0 },
        { path: '$["a b"][3]', in: [1, "1"] },
        { path: "$.a", gt: -1.5 },
        { path: "$.a", gte: 0 },
        { path: "$.a", lt: 1e9 },
        { path: "$.a", lte: 2 },
        { and: [{ not: { path: "$._x-y", exists: false } }] },
      ],
    };
    expect(errors(all)).toEqual([]);
    expect(payloadFilterErrors({ path: "$", exists: 1 }, "filters.2")).toEqual([
      { path: "filters.2.exists", message: "must be true or false" },
    ]);
  });

  it("names each problem by its place in the body", () => {
    expect(
      errors({
        or: [
          { path: "$.a", gt: "1" },
          { path: "$.a", foo: 1 },
        ],
      }),
    ).toEqual([
      { path: "payloadFilter.or.0.gt", message: "must be a finite number" },
      {
        path: "payloadFilter.or.1.foo",
        message: "unknown operator `foo`: expected one of eq, ne, in, gt, gte, lt, lte, exists",
      },
      {
        path: "payloadFilter.or.1",
        message: "needs an operator beside `path`: one of eq, ne, in, gt, gte, lt, lte, exists",
      },
    ]);
    expect(errors({ and: [{ not: { path: "a", eq: 1 } }] })).toEqual([
      {
        path: "payloadFilter.and.0.not.path",
        message: "unexpected character `a` at 0: expected `$` (the event's data)",
      },
    ]);
  });

  it("refuses malformed nodes", () => {
    const cases: [unknown, string, string][] = [
      [null, "payloadFilter", "must be an object: `path` with an operator, or and, or, not"],
      [[leaf()], "payloadFilter", "must be an object: `path` with an operator, or and, or, not"],
      [{}, "payloadFilter", "is empty: expected `path` with an operator, or and, or, not"],
      [{ eq: 1 }, "payloadFilter.path", "is required, such as `$.order.id`"],
      [{ path: 3, eq: 1 }, "payloadFilter.path", "must be a string, such as `$.order.id`"],
      [
        { path: "$", eq: 1, gt: 1 },
        "payloadFilter",
        "has eq, gt: one operator per condition, combine conditions with and",
      ],
      [{ and: [leaf()], or: [leaf()] }, "payloadFilter", "has and, or: one per object, nest them"],
      [
        { and: [leaf()], why: 1 },
        "payloadFilter.why",
        "unknown key `why`: expected `path` with an operator, or and, or, not",
      ],
      [{ and: [] }, "payloadFilter.and", "must be an array of 1 to 20 conditions"],
      [{ or: leaf() }, "payloadFilter.or", "must be an array of 1 to 20 conditions"],
      [{ not: [leaf()] }, "payloadFilter.not", "must be an object: `path` with an operator, or and, or, not"],
      [{ path: "$", in: [] }, "payloadFilter.in", "must be an array of 1 to 100 values"],
      [{ path: "$", in: "a" }, "payloadFilter.in", "must be an array of 1 to 100 values"],
      [{ path: "$", lte: null }, "payloadFilter.lte", "must be a finite number"],
      [{ path: "$", gte: Number.POSITIVE_INFINITY }, "payloadFilter.gte", "must be a finite number"],
      [{ path: "$", exists: "yes" }, "payloadFilter.exists", "must be true or false"],
      [{ path: "$", eq: undefined }, "payloadFilter.eq", "is not a JSON value"],
      [{ path: "$", eq: { a: [1, Number.NaN] } }, "payloadFilter.eq.a.1", "is a number out of range"],
      [{ path: "$", in: [1, { b: () => 1 }] }, "payloadFilter.in.1.b", "is not a JSON value"],
    ];
    for (const [input, path, message] of cases) {
      expect(errors(input), JSON.stringify(input)).toEqual([{ path, message }]);
    }
  });

  it("refuses malformed paths, saying where", () => {
    const cases: [string, string][] = [
      ["", "unexpected end at 0: expected `$` (the event's data)"],
      ["data.a", "unexpected character `d` at 0: expected `$` (the event's data)"],
      ["$a", "unexpected character `a` at 1: expected `.` or `[`"],
      ["$.a b", "unexpected character ` ` at 3: expected `.` or `[`"],
      ["$.", "unexpected end at 2: expected a name (a letter or `_`, then letters, digits, `_`, `-`)"],
      [
        "$.1a",
        "unexpected character `1` at 2: expected a name (a letter or `_`, then letters, digits, `_`, `-`)",
      ],
      [
        "$..a",
        "unexpected character `.` at 2: expected a name (a letter or `_`, then letters, digits, `_`, `-`)",
      ],
      ["$[", 'unexpected end at 2: expected a "string" or an array index'],
      ["$[-1]", 'unexpected character `-` at 2: expected a "string" or an array index'],
      ["$['a']", 'unexpected character `\'` at 2: expected a "string" or an array index'],
      ["$[01]", "unexpected character `1` at 3: expected `]`"],
      ["$[1.5]", "unexpected character `.` at 3: expected `]`"],
      ['$["a"', "unexpected end at 5: expected `]`"],
      ['$["a\\q"]', "invalid string literal at 2"],
      ["$[10001]", "index 10001 at 2 is above 10000"],
      [
        "$.😀",
        "unexpected character `😀` at 2: expected a name (a letter or `_`, then letters, digits, `_`, `-`)",
      ],
      [`$${".a".repeat(17)}`, "has more than 16 segments"],
      [`$["${"x".repeat(252)}"]`, "is longer than 256 characters"],
    ];
    for (const [path, message] of cases) {
      expect(errors({ path, exists: true }), path).toEqual([{ path: "payloadFilter.path", message }]);
    }
    for (const path of [
      "$",
      "$[10000]",
      `$${".a".repeat(16)}`,
      `$["${"x".repeat(251)}"]`,
      '$["\\"]\\u00e9"]',
    ]) {
      expect(errors({ path, exists: true }), path).toEqual([]);
    }
  });

  it("bounds the depth: 8 levels pass, 9 do not", () => {
    expect(errors(nested(8))).toEqual([]);
    expect(errors(nested(9))).toEqual([
      {
        path: `payloadFilter${".not".repeat(8)}`,
        message: "too deep: at most 8 levels (and, or, not add one)",
      },
    ]);
  });

  it("bounds the number of nodes: 64 pass, 65 do not", () => {
    expect(errors({ and: [...wide(3, 15).and, { or: Array.from({ length: 14 }, leaf) }] })).toEqual([]);
    expect(errors(wide(4, 15))).toEqual([
      {
        path: "payloadFilter",
        message: "too many conditions: at most 64 (each condition, and, or, not counts one)",
      },
    ]);
  });

  it("bounds the items of and, or and in", () => {
    expect(errors({ or: Array.from({ length: 20 }, leaf) })).toEqual([]);
    expect(errors({ or: Array.from({ length: 21 }, leaf) })).toEqual([
      { path: "payloadFilter.or", message: "must be an array of 1 to 20 conditions" },
    ]);
    const values = (n: number) => Array.from({ length: n }, (_, i) => i);
    expect(errors({ path: "$", in: values(100) })).toEqual([]);
    expect(errors({ path: "$", in: values(101) })).toEqual([
      { path: "payloadFilter.in", message: "must be an array of 1 to 100 values" },
    ]);
  });

  it("bounds the size as JSON, in bytes", () => {
    const sized = (bytes: number) => {
      const filter = { path: "$", eq: "" };
      filter.eq = "é".repeat((bytes - JSON.stringify(filter).length) / 2);
      return filter;
    };
    expect(errors(sized(4096))).toEqual([]);
    expect(errors(sized(4098))).toEqual([
      { path: "payloadFilter", message: "is 4098 bytes as JSON: at most 4096" },
    ]);
  });

  it("bounds an operand's JSON depth and refuses a __proto__ key in it", () => {
    const deep = (levels: number): unknown => (levels === 0 ? 1 : [deep(levels - 1)]);
    expect(errors({ path: "$", eq: deep(8) })).toEqual([]);
    expect(errors({ path: "$", ne: deep(9) })).toEqual([
      { path: `payloadFilter.ne${".0".repeat(8)}`, message: "nests deeper than 8 levels" },
    ]);
    expect(errors({ path: "$", in: [1, JSON.parse('{"__proto__": 1}')] })).toEqual([
      { path: "payloadFilter.in.1.__proto__", message: "is a key the service does not accept" },
    ]);
  });

  it("reports every problem at once", () => {
    expect(errors({ and: [{ path: "x", gt: "1" }, {}, { not: null }] }).map((e) => e.path)).toEqual([
      "payloadFilter.and.0.path",
      "payloadFilter.and.0.gt",
      "payloadFilter.and.1",
      "payloadFilter.and.2.not",
    ]);
  });
});

// The reference: filters over pre-split segment lists, evaluated as naively as possible.

type Segment = string | number;
type Operator = "eq" | "ne" | "in" | "gt" | "gte" | "lt" | "lte" | "exists";
type Reference =
  | { segments: Segment[]; operator: Operator; operand: unknown }
  | { and: Reference[] }
  | { or: Reference[] }
  | { not: Reference };

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function renderPath(segments: readonly Segment[], quoted: readonly boolean[] = []): string {
  const rendered = segments.map((segment, i) => {
    if (typeof segment === "number") return `[${segment}]`;
    return NAME.test(segment) && !quoted[i] ? `.${segment}` : `[${JSON.stringify(segment)}]`;
  });
  return `$${rendered.join("")}`;
}

function render(reference: Reference): PayloadFilter {
  if ("and" in reference) return { and: reference.and.map(render) };
  if ("or" in reference) return { or: reference.or.map(render) };
  if ("not" in reference) return { not: render(reference.not) };
  return { path: renderPath(reference.segments), [reference.operator]: reference.operand } as PayloadFilter;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** JSON with every object's keys sorted: equal documents, equal strings. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v) =>
    isPlainObject(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );

function referenceResolve(data: unknown, segments: readonly Segment[]): { value: unknown } | undefined {
  let current = data;
  for (const segment of segments) {
    const entries: [Segment, unknown][] =
      typeof segment === "number"
        ? Array.isArray(current)
          ? current.map((v, i) => [i, v])
          : []
        : isPlainObject(current)
          ? Object.entries(current)
          : [];
    const entry = entries.find(([key]) => key === segment);
    if (!entry) return undefined;
    current = entry[1];
  }
  return { value: current };
}

function referenceMatches(reference: Reference, data: unknown): boolean {
  if ("and" in reference) return reference.and.every((r) => referenceMatches(r, data));
  if ("or" in reference) return reference.or.some((r) => referenceMatches(r, data));
  if ("not" in reference) return !referenceMatches(reference.not, data);
  const found = referenceResolve(data, reference.segments);
  const { operator, operand } = reference;
  if (operator === "exists") return (found !== undefined) === operand;
  if (found === undefined) return false;
  const value = found.value;
  const operandNumber = operand as number;
  switch (operator) {
    case "eq":
      return canonical(value) === canonical(operand);
    case "ne":
      return canonical(value) !== canonical(operand);
    case "in":
      return (operand as unknown[]).map(canonical).includes(canonical(value));
    case "gt":
      return typeof value === "number" && value > operandNumber;
    case "gte":
      return typeof value === "number" && value >= operandNumber;
    case "lt":
      return typeof value === "number" && value < operandNumber;
    case "lte":
      return typeof value === "number" && value <= operandNumber;
  }
}

/** `data` with `value` set at `segments`, making the objects and arrays on the way (null-padded). */
function plant(data: unknown, segments: readonly Segment[], value: unknown): unknown {
  const [head, ...rest] = segments;
  if (head === undefined) return value;
  if (typeof head === "number") {
    const array = Array.isArray(data) ? data : [];
    const copy = Array.from({ length: Math.max(array.length, head + 1) }, (_, i) => array[i] ?? null);
    copy[head] = plant(copy[head], rest, value);
    return copy;
  }
  const entries = isPlainObject(data) ? Object.entries(data) : [];
  const current = entries.find(([key]) => key === head)?.[1];
  return Object.fromEntries([...entries, [head, plant(current, rest, value)]]);
}

function countNodes(reference: Reference): number {
  if ("and" in reference) return 1 + reference.and.reduce((n, r) => n + countNodes(r), 0);
  if ("or" in reference) return 1 + reference.or.reduce((n, r) => n + countNodes(r), 0);
  if ("not" in reference) return 1 + countNodes(reference.not);
  return 1;
}

function leavesOf(reference: Reference): Extract<Reference, { segments: Segment[] }>[] {
  if ("and" in reference) return reference.and.flatMap(leavesOf);
  if ("or" in reference) return reference.or.flatMap(leavesOf);
  if ("not" in reference) return leavesOf(reference.not);
  return [reference];
}

/** A value the leaf's operator is likely to find interesting: its operand, or one of them. */
function nearValue({ operator, operand }: Extract<Reference, { segments: Segment[] }>): unknown {
  if (operator === "exists") return null;
  return operator === "in" ? (operand as unknown[])[0] : operand;
}

/** `value` with every array and every object's keys in reverse order: equal only if no array changed. */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed).reverse();
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .map(([key, v]) => [key, reversed(v)] as const)
      .reverse(),
  );
}

// Few keys and small arrays, so that random data often holds the random paths.
const KEYS = ["a", "b", "x y", "a.b", "", "0", "constructor", "toString", "__proto__"];
const scalar = fc.constantFrom(null, true, false, 0, -0, 1, -1, 2.5, "", "a", "0");
const jsonWithKeys = (keys: readonly string[]) =>
  fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { maxDepth: 4 },
      scalar,
      fc.array(tie("value"), { maxLength: 3 }),
      fc
        .array(fc.tuple(fc.constantFrom(...keys), tie("value")), { maxLength: 3 })
        .map((entries) => Object.fromEntries(entries)),
    ),
  })).value;
const anyData = jsonWithKeys(KEYS);
// lib/json-limits.ts refuses a __proto__ key in a request body, so an operand never has one.
const anyOperand = jsonWithKeys(KEYS.filter((key) => key !== "__proto__"));
const anyNumber = fc.oneof(
  fc.constantFrom(-1, 0, 1, 2.5),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const anySegments = fc.array(fc.oneof(fc.constantFrom(...KEYS), fc.nat(2)), { maxLength: 4 });

const anyLeaf: fc.Arbitrary<Reference> = fc
  .tuple(
    anySegments,
    fc.oneof(
      fc.tuple(fc.constantFrom<Operator>("eq", "ne"), anyOperand),
      fc.tuple(fc.constant<Operator>("in"), fc.array(anyOperand, { minLength: 1, maxLength: 4 })),
      fc.tuple(fc.constantFrom<Operator>("gt", "gte", "lt", "lte"), anyNumber),
      fc.tuple(fc.constant<Operator>("exists"), fc.boolean()),
    ),
  )
  .map(([segments, [operator, operand]]) => ({ segments, operator, operand }));

/** Trees of at most maxDepth levels, built bottom-up; the other limits are met by filtering. */
const anyReference = Array.from({ length: PAYLOAD_FILTER_LIMITS.maxDepth - 1 })
  .reduce<fc.Arbitrary<Reference>>(
    (below) =>
      fc.oneof(
        { arbitrary: anyLeaf, weight: 3 },
        fc.array(below, { minLength: 1, maxLength: 3 }).map((and) => ({ and })),
        fc.array(below, { minLength: 1, maxLength: 3 }).map((or) => ({ or })),
        below.map((not) => ({ not })),
      ),
    anyLeaf,
  )
  .filter(
    (r) =>
      countNodes(r) <= PAYLOAD_FILTER_LIMITS.maxNodes &&
      Buffer.byteLength(JSON.stringify(render(r))) <= PAYLOAD_FILTER_LIMITS.maxBytes,
  );

/**
 * A filter and data that often holds its paths, sometimes with the very values it asks about (or
 * those with arrays and keys reversed).
 */
const anyFilterAndData = anyReference.chain((r) =>
  fc
    .tuple(anyData, fc.array(fc.tuple(fc.constantFrom(...leavesOf(r)), fc.nat(2), anyData), { maxLength: 4 }))
    .map(([base, plants]) => ({
      reference: r,
      data: plants.reduce(
        (d, [leaf, choice, random]) =>
          plant(d, leaf.segments, [nearValue(leaf), reversed(nearValue(leaf)), random][choice]),
        base,
      ),
    })),
);

describe("payload filters against a naive reference", () => {
  it("every generated filter validates and matches exactly when the reference does", () => {
    fc.assert(
      fc.property(anyFilterAndData, ({ reference, data }) => {
        const filter = render(reference);
        expect(payloadFilterErrors(filter)).toEqual([]);
        expect(matchesPayloadFilter(filter, data)).toBe(referenceMatches(reference, data));
      }),
      { numRuns: 300 },
    );
  });

  it("every rendered path within the limits validates and reads what it names", () => {
    const name = fc.oneof(
      fc.string({ unit: "binary", maxLength: 6 }),
      fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,5}$/),
      fc.constantFrom("__proto__", "constructor", "toString", "length", "0"),
    );
    const index = fc.oneof(fc.nat(3), fc.constant(PAYLOAD_FILTER_LIMITS.maxIndex), fc.nat(10_000));
    const anyPath = fc
      .array(fc.tuple(fc.oneof(name, index), fc.boolean()), {
        maxLength: PAYLOAD_FILTER_LIMITS.maxPathSegments,
      })
      .map((list) => {
        const segments = list.map(([segment]) => segment);
        return {
          segments,
          path: renderPath(
            segments,
            list.map(([, quoted]) => quoted),
          ),
        };
      })
      .filter(({ path }) => path.length <= PAYLOAD_FILTER_LIMITS.maxPathLength);
    fc.assert(
      fc.property(anyPath, ({ segments, path }) => {
        const filter: PayloadFilter = { path, eq: "marker" };
        expect(payloadFilterErrors(filter)).toEqual([]);
        expect(matchesPayloadFilter(filter, plant(null, segments, "marker"))).toBe(true);
        expect(matchesPayloadFilter(filter, plant(null, segments, "other"))).toBe(false);
        // The last segment missing: its parent is empty, or of the other kind and holds it under the
        // other reading ({"0": "x"} for `[0]`, ["x"] for `["0"]`). Only `$` itself then exists.
        const last = segments.at(-1);
        for (const parent of typeof last === "number" ? [[], { [last]: "x" }] : [{}, ["x"]]) {
          const data = plant(null, segments.slice(0, -1), parent);
          expect(matchesPayloadFilter({ path, exists: true }, data)).toBe(segments.length === 0);
        }
      }),
      { numRuns: 300 },
    );
    // Arrays of up to 10,000 items are planted: seconds of work when the machine is busy.
  }, 20_000);
});
