import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Data flows one way through src/ (docs/architecture.md): no two files import each other, directly
 * or around a loop, and neither do two folders. A folder-level loop is how a layer starts depending
 * on one above it (health importing delivery, which imports health), even when no file-level loop
 * exists yet.
 */
const src = resolve(import.meta.dirname, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

/** Each file's relative imports (type-only ones too: they are dependencies of meaning), resolved. */
function importGraph(): Map<string, string[]> {
  const files = sourceFiles(src);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const targets = [...text.matchAll(/\bfrom\s+"(\.{1,2}\/[^"]+)"/g)].flatMap(([, spec]) => {
      const target = resolve(dirname(file), spec as string);
      if (!target.startsWith(src)) return []; // ../package.json and the like
      const candidates = [
        `${target}.ts`,
        `${target}.tsx`,
        join(target, "index.ts"),
        join(target, "index.tsx"),
      ];
      return [candidates.find((file) => known.has(file)) ?? `${target}.ts`];
    });
    graph.set(file, targets);
  }
  return graph;
}

/** Strongly connected components with more than one member, or a member importing itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      onStack.delete(member);
      component.push(member);
      if (member === node) break;
    }
    if (component.length > 1 || graph.get(node)?.includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** The folder directly under src/ a file belongs to; files at the top (index.ts, config.ts) are their own. */
const folderOf = (file: string) => relative(src, file).split("/")[0] as string;

describe("the layering of src/", () => {
  const graph = importGraph();

  it("reads every import it checks", () => {
    expect(graph.size).toBeGreaterThan(50);
    for (const targets of graph.values())
      for (const target of targets) expect(graph.has(target), target).toBe(true);
  });

  it("has no import cycle between files", () => {
    expect(cycles(graph).map((cycle) => cycle.map((file) => relative(src, file)))).toEqual([]);
  });

  it("has no import cycle between folders", () => {
    const folders = new Map<string, string[]>();
    for (const [file, targets] of graph) {
      const from = folderOf(file);
      const to = targets.map(folderOf).filter((folder) => folder !== from);
      folders.set(from, [...new Set([...(folders.get(from) ?? []), ...to])]);
    }
    expect(cycles(folders)).toEqual([]);
  });
});

/**
 * Events and deliveries live in the organization's shard (docs/scale.md): their SQL takes the
 * database it runs on, and only src/db/shards.ts picks it. A call that hands such a function the
 * control plane's `DB` would write one organization's history where it is never read again.
 */
describe("the data plane's routing", () => {
  const dataModules = sourceFiles(join(src, "db")).filter((file) =>
    /^db\/(events\.ts|id-ranges\.ts|deliveries\/)/.test(relative(src, file)),
  );
  const dataFunctions = dataModules.flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(/export (?:async )?function (\w+)/g)].map(
      ([, name]) => name as string,
    ),
  );

  it("knows the data plane's SQL functions", () => {
    expect(dataFunctions).toEqual(expect.arrayContaining(["insertEvent", "listDeliveries", "storedIds"]));
  });

  it("never hands the control plane's database to them", () => {
    const calls = new RegExp(`\\b(${dataFunctions.join("|")})\\(\\s*(?:c\\.)?env\\.DB\\b`, "g");
    const misrouted = sourceFiles(src).flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(calls)].map(([, name]) => `${relative(src, file)}: ${name}`),
    );
    expect(misrouted).toEqual([]);
  });

  it("looks up the shard bindings in one file only", () => {
    const naming = sourceFiles(src).filter((file) => readFileSync(file, "utf8").includes("`DB_SHARD_${"));
    expect(naming.map((file) => relative(src, file))).toEqual(["db/shards.ts"]);
  });
});
