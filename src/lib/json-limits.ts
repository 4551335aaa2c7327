import type { FieldError } from "./errors";

/**
 * What a JSON document must be before any other code touches it: plain JSON values only, nested at
 * most `maxDepth` deep (the top-level object or array is depth 1), numbers finite, strings and keys
 * well-formed Unicode, no `__proto__` key. Deep nesting is the one that matters most: the runtime's
 * serializers (queue messages, RPC) and `JSON.stringify` recurse, and a few thousand levels
 * overflow their stack, in a consumer run that then takes other tenants' messages down with it. The
 * others would be silently altered on the way: `1e400` parses to Infinity and is sent as `null`, a
 * `__proto__` key becomes a prototype and vanishes, a lone surrogate is not valid UTF-8.
 *
 * The walk is iterative, so a document nested 100,000 deep is refused without recursion.
 */
export type JsonLimits = { maxDepth: number };

/** A broken rule: `depth` is the one an operator tunes (`maxDepth`); the others are fixed. */
export type JsonViolation = FieldError & { rule: "depth" | "value" };

type Frame = { value: object; depth: number; parent: number; key: string };

/** The first rule `value` breaks, with the path to where (`data.items.0`), or null. */
export function findJsonViolation(value: unknown, limits: JsonLimits): JsonViolation | null {
  const frames: Frame[] = [];
  const at = (parent: number, key: string) => pathOf(frames, parent, key);
  const leaf = checkLeaf(value);
  if (leaf !== "container") return leaf ? { rule: "value", path: "(body)", message: leaf } : null;

  frames.push({ value: value as object, depth: 1, parent: -1, key: "" });
  for (let index = 0; index < frames.length; index++) {
    const frame = frames[index] as Frame;
    if (frame.depth > limits.maxDepth) {
      const message = `nests deeper than ${limits.maxDepth} levels`;
      return { rule: "depth", path: at(frame.parent, frame.key), message };
    }
    const entries: [string, unknown][] = Array.isArray(frame.value)
      ? frame.value.map((item, i) => [String(i), item])
      : Object.entries(frame.value);
    for (const [key, child] of entries) {
      const problem =
        key === "__proto__" ? "is a key the service does not accept" : (checkKey(key) ?? checkLeaf(child));
      if (problem === "container")
        frames.push({ value: child as object, depth: frame.depth + 1, parent: index, key });
      else if (problem)
        return { rule: "value", path: at(index, key.isWellFormed() ? key : "?"), message: problem };
    }
  }
  return null;
}

function checkKey(key: string): string | null {
  return key.isWellFormed() ? null : "is a key that is not well-formed Unicode (a lone surrogate)";
}

/** Null for a valid scalar, "container" for an array or plain object, else what is wrong with it. */
function checkLeaf(value: unknown): string | null | "container" {
  switch (typeof value) {
    case "string":
      return value.isWellFormed() ? null : "is not well-formed Unicode (a lone surrogate)";
    case "number":
      return Number.isFinite(value) ? null : "is a number out of range";
    case "boolean":
      return null;
    case "object": {
      if (value === null) return null;
      if (Array.isArray(value)) return "container";
      const prototype = Object.getPrototypeOf(value);
      return prototype === Object.prototype || prototype === null ? "container" : "is not a JSON value";
    }
    default:
      return "is not a JSON value";
  }
}

/** `data.items.0` from the chain of frames; the top-level document has no name of its own. */
function pathOf(frames: readonly Frame[], parent: number, key: string): string {
  const keys = [key];
  for (let i = parent; i > 0; i = (frames[i] as Frame).parent) keys.push((frames[i] as Frame).key);
  return keys.reverse().join(".");
}
