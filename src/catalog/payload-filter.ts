import type { PayloadFilter } from "../domain/payload-filter";
import type { FieldError } from "../lib/errors";
import { findJsonViolation } from "../lib/json-limits";

type Leaf = Extract<PayloadFilter, { path: string }>;
type Segment = string | number;

/**
 * What one filter may cost fan-out, quoted by the API docs: levels of nesting (a condition at the top
 * is level 1, each and/or/not adds one), conditions and combinators in all, bytes as JSON, items of an
 * and/or and of an `in`, JSON nesting of an operand (lib/json-limits.ts counts), and path bounds.
 */
export const PAYLOAD_FILTER_LIMITS = {
  maxDepth: 8,
  maxNodes: 64,
  maxBytes: 4096,
  maxConditions: 20,
  maxInValues: 100,
  maxOperandDepth: 8,
  maxPathSegments: 16,
  maxPathLength: 256,
  maxIndex: 10_000,
} as const;

const OPERATORS = ["eq", "ne", "in", "gt", "gte", "lt", "lte", "exists"] as const;
const COMBINATORS = ["and", "or", "not"] as const;
type Operator = (typeof OPERATORS)[number];

const isOperator = (key: string): key is Operator => (OPERATORS as readonly string[]).includes(key);
const isCombinator = (key: string) => (COMBINATORS as readonly string[]).includes(key);
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const itemsOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
/** Dotted like every other field path the API reports (`eventTypeFilters.0`, src/api/problem.ts). */
const child = (at: string, key: string | number) => `${at}.${key}`;

/** The state of one validation: problems found, and nodes seen (for maxNodes). */
type Walk = { errors: FieldError[]; nodes: number };

const report = (walk: Walk, path: string, message: string) => {
  walk.errors.push({ path, message });
};

/**
 * Every problem with an untrusted filter (`at` names it in the request body), or none. The body has
 * already passed lib/json-limits.ts (src/api/app.ts), so measuring its size first is safe; a filter
 * over the size limit gets that one error, which keeps the list and the walk short.
 */
export function payloadFilterErrors(input: unknown, at = "payloadFilter"): FieldError[] {
  const { maxBytes, maxNodes } = PAYLOAD_FILTER_LIMITS;
  const bytes = new TextEncoder().encode(JSON.stringify(input) ?? "").byteLength;
  if (bytes > maxBytes) return [{ path: at, message: `is ${bytes} bytes as JSON: at most ${maxBytes}` }];
  const walk: Walk = { errors: [], nodes: 0 };
  checkNode(input, at, 1, walk);
  if (walk.nodes > maxNodes) {
    report(walk, at, `too many conditions: at most ${maxNodes} (each condition, and, or, not counts one)`);
  }
  return walk.errors;
}

function checkNode(node: unknown, at: string, depth: number, walk: Walk): void {
  walk.nodes++;
  const { maxDepth } = PAYLOAD_FILTER_LIMITS;
  if (depth > maxDepth) report(walk, at, `too deep: at most ${maxDepth} levels (and, or, not add one)`);
  else if (!isObject(node)) report(walk, at, "must be an object: `path` with an operator, or and, or, not");
  else if (Object.keys(node).some((key) => key === "path" || isOperator(key))) checkLeaf(node, at, walk);
  else checkCombinator(node, at, depth, walk);
}

function checkLeaf(node: Record<string, unknown>, at: string, walk: Walk): void {
  const keys = Object.keys(node);
  const expected = `one of ${OPERATORS.join(", ")}`;
  for (const key of keys.filter((key) => key !== "path" && !isOperator(key))) {
    report(walk, child(at, key), `unknown operator \`${key}\`: expected ${expected}`);
  }
  const pathProblem = !keys.includes("path")
    ? "is required, such as `$.order.id`"
    : typeof node.path !== "string"
      ? "must be a string, such as `$.order.id`"
      : parsePath(node.path).reason;
  if (pathProblem) report(walk, child(at, "path"), pathProblem);
  const operators = keys.filter(isOperator);
  if (operators.length === 0) report(walk, at, `needs an operator beside \`path\`: ${expected}`);
  if (operators.length > 1) {
    report(walk, at, `has ${operators.join(", ")}: one operator per condition, combine conditions with and`);
  }
  for (const operator of operators) checkOperand(operator, node[operator], child(at, operator), walk);
}

function checkOperand(operator: Operator, value: unknown, at: string, walk: Walk): void {
  const { maxInValues } = PAYLOAD_FILTER_LIMITS;
  if (operator === "eq" || operator === "ne") {
    checkJson(value, at, walk);
  } else if (operator === "in") {
    if (!Array.isArray(value) || value.length === 0 || value.length > maxInValues) {
      report(walk, at, `must be an array of 1 to ${maxInValues} values`);
    }
    for (const [i, item] of itemsOf(value).entries()) checkJson(item, child(at, i), walk);
  } else if (operator === "exists") {
    if (typeof value !== "boolean") report(walk, at, "must be true or false");
  } else if (!Number.isFinite(value)) {
    report(walk, at, "must be a finite number");
  }
}

/** An operand follows the service's JSON rules (lib/json-limits.ts), nested at most maxOperandDepth. */
function checkJson(value: unknown, at: string, walk: Walk): void {
  const violation = findJsonViolation(value, { maxDepth: PAYLOAD_FILTER_LIMITS.maxOperandDepth });
  if (!violation) return;
  report(walk, violation.path === "(body)" ? at : child(at, violation.path), violation.message);
}

function checkCombinator(node: Record<string, unknown>, at: string, depth: number, walk: Walk): void {
  const keys = Object.keys(node);
  const { maxConditions } = PAYLOAD_FILTER_LIMITS;
  const expected = "expected `path` with an operator, or and, or, not";
  if (keys.length === 0) report(walk, at, `is empty: ${expected}`);
  for (const key of keys.filter((key) => !isCombinator(key))) {
    report(walk, child(at, key), `unknown key \`${key}\`: ${expected}`);
  }
  const combinators = keys.filter(isCombinator);
  if (combinators.length > 1) report(walk, at, `has ${combinators.join(", ")}: one per object, nest them`);
  for (const key of combinators) {
    const value = node[key];
    if (key === "not") {
      checkNode(value, child(at, key), depth + 1, walk);
      continue;
    }
    if (!Array.isArray(value) || value.length === 0 || value.length > maxConditions) {
      report(walk, child(at, key), `must be an array of 1 to ${maxConditions} conditions`);
    }
    for (const [i, item] of itemsOf(value).entries())
      checkNode(item, child(child(at, key), i), depth + 1, walk);
  }
}

type ParsedPath = { segments: Segment[]; reason?: undefined } | { segments?: undefined; reason: string };

// Fixed token patterns, sticky (matched at `lastIndex` only): nothing is built from the input.
const NAME = /[A-Za-z_][A-Za-z0-9_-]*/y;
const STRING = /"(?:[^"\\]|\\.)*"/y;
const INDEX = /0|[1-9][0-9]*/y;

function tokenAt(pattern: RegExp, text: string, at: number): string | undefined {
  pattern.lastIndex = at;
  return pattern.exec(text)?.[0];
}

function unexpected(path: string, at: number, expected: string): ParsedPath {
  const found = path.codePointAt(at);
  const what =
    found === undefined ? "unexpected end" : `unexpected character \`${String.fromCodePoint(found)}\``;
  return { reason: `${what} at ${at}: expected ${expected}` };
}

/** A path's segments, or what is wrong with it; positions count UTF-16 code units from 0. */
function parsePath(path: string): ParsedPath {
  const { maxPathLength, maxPathSegments, maxIndex } = PAYLOAD_FILTER_LIMITS;
  if (path.length > maxPathLength) return { reason: `is longer than ${maxPathLength} characters` };
  if (!path.startsWith("$")) return unexpected(path, 0, "`$` (the event's data)");
  const segments: Segment[] = [];
  for (let i = 1; i < path.length; ) {
    if (segments.length === maxPathSegments) return { reason: `has more than ${maxPathSegments} segments` };
    if (path[i] === ".") {
      const name = tokenAt(NAME, path, i + 1);
      if (name === undefined)
        return unexpected(path, i + 1, "a name (a letter or `_`, then letters, digits, `_`, `-`)");
      segments.push(name);
      i += 1 + name.length;
    } else if (path[i] === "[") {
      const token = tokenAt(STRING, path, i + 1) ?? tokenAt(INDEX, path, i + 1);
      if (token === undefined) return unexpected(path, i + 1, 'a "string" or an array index');
      const end = i + 1 + token.length;
      if (path[end] !== "]") return unexpected(path, end, "`]`");
      const segment = token.startsWith('"') ? parseString(token) : Number(token);
      if (segment === null) return { reason: `invalid string literal at ${i + 1}` };
      if (typeof segment === "number" && segment > maxIndex) {
        return { reason: `index ${token} at ${i + 1} is above ${maxIndex}` };
      }
      segments.push(segment);
      i = end + 1;
    } else {
      return unexpected(path, i, "`.` or `[`");
    }
  }
  return { segments };
}

/** A JSON string literal's value (the token matched STRING), or null when an escape is invalid. */
function parseString(literal: string): string | null {
  try {
    return JSON.parse(literal) as string;
  } catch {
    return null;
  }
}

/**
 * Parsed paths by leaf: fan-out tests each subscription of a page against every event of a batch
 * (planOrganization in src/delivery/fan-out.ts), so a stored filter's paths are parsed once, not once
 * per event. Filters are treated as immutable.
 */
const parsedPaths = new WeakMap<Leaf, Segment[]>();

function segmentsOf(leaf: Leaf): Segment[] {
  const cached = parsedPaths.get(leaf);
  if (cached) return cached;
  const { segments, reason } = parsePath(leaf.path);
  if (!segments) throw new Error(`payload filter path ${JSON.stringify(leaf.path)} ${reason}`);
  parsedPaths.set(leaf, segments);
  return segments;
}

const MISSING = Symbol("missing");

function resolve(data: unknown, segments: readonly Segment[]): unknown {
  let value = data;
  for (const segment of segments) {
    const found =
      typeof segment === "number"
        ? Array.isArray(value) && segment < value.length
        : isObject(value) && Object.hasOwn(value, segment);
    if (!found) return MISSING;
    value = (value as Record<Segment, unknown>)[segment];
  }
  return value;
}

/** Deep JSON equality; recursion ends within the operand's depth (at most maxOperandDepth). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]))
    );
  }
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]))
  );
}

function holds(leaf: Leaf, value: unknown): boolean {
  if ("exists" in leaf) return (value !== MISSING) === leaf.exists;
  if (value === MISSING) return false;
  if ("eq" in leaf) return jsonEqual(value, leaf.eq);
  if ("ne" in leaf) return !jsonEqual(value, leaf.ne);
  if ("in" in leaf) return leaf.in.some((item) => jsonEqual(value, item));
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  if ("gt" in leaf) return value > leaf.gt;
  if ("gte" in leaf) return value >= leaf.gte;
  if ("lt" in leaf) return value < leaf.lt;
  return value <= leaf.lte;
}

/**
 * Whether an event's `data` satisfies a filter that payloadFilterErrors accepted (a path it would
 * refuse throws). At most 64 nodes, 16 segments a path and 4096 bytes of operands: bounded work.
 */
export function matchesPayloadFilter(filter: PayloadFilter, data: unknown): boolean {
  if ("and" in filter) return filter.and.every((f) => matchesPayloadFilter(f, data));
  if ("or" in filter) return filter.or.some((f) => matchesPayloadFilter(f, data));
  if ("not" in filter) return !matchesPayloadFilter(filter.not, data);
  return holds(filter, resolve(data, segmentsOf(filter)));
}
