/**
 * The payload filter's shape, for every module that holds one (the endpoint, storage, the API);
 * validating and evaluating one is catalog/payload-filter.ts's.
 */

/** A JSON value, as an event's `data` and a filter's operands are. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * An endpoint's condition on an event's `data`: fan-out delivers the event only when it holds.
 * Declarative JSON, so that an untrusted API body can state it and fan-out can evaluate it in bounded
 * time without eval or a regex built from input.
 *
 * A condition (leaf) has exactly two keys, `path` and one operator:
 * - `eq`: the value deep-equals the operand (objects: same keys, equal values, key order irrelevant;
 *   arrays: same length and order); `ne`: the value exists and does not; `in`: it deep-equals one of
 *   the 1 to 100 listed values;
 * - `gt`, `gte`, `lt`, `lte`: the value is a finite number and compares so with the operand;
 * - `exists: true`: the path resolves to a value (`null` counts); `exists: false`: it does not.
 * A missing value fails every operator but `exists: false`. A combinator has exactly one key: `and`
 * (1 to 20 conditions, all hold), `or` (1 to 20, one holds) or `not`.
 *
 * `path` is rooted at `data`: `$` alone, or `$` followed by up to 16 segments, `.name` (a letter or
 * `_`, then letters, digits, `_`, `-`), `["any string"]` (a JSON string literal) or `[N]` (an array
 * index, 0 to 10000, no leading zero); 256 characters at most, no spaces between tokens. A name reads
 * an object's own property only, so `__proto__` and `constructor` are names like any other; an index
 * reads an array only.
 */
export type PayloadFilter =
  | { path: string; eq: Json }
  | { path: string; ne: Json }
  | { path: string; in: Json[] }
  | { path: string; gt: number }
  | { path: string; gte: number }
  | { path: string; lt: number }
  | { path: string; lte: number }
  | { path: string; exists: boolean }
  | { and: PayloadFilter[] }
  | { or: PayloadFilter[] }
  | { not: PayloadFilter };
