// Shared by the soak and benchmark scripts: a throwaway local deployment (`wrangler dev` with its own
// state directory, migrations applied) and a few helpers to drive it. Loopback only.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { d1Databases } from "./d1-databases.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const wrangler = join(root, "node_modules/.bin/wrangler");

export function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `wrangler dev` for the Worker in `dir` from a copy of its `files` (wrangler dev reloads on
 * every change to the files it serves, which would drop its in-memory queues in the middle of a long
 * run), on a fresh state directory, with `vars`; `entry`, when given, is served instead of the config's
 * `main`. Resolves once it answers HTTP.
 */
async function startWranglerDev({ dir, files, vars, migrate, entry, inspect = false }) {
  const work = mkdtempSync(join(tmpdir(), "edge-webhooks-"));
  const project = join(work, "project");
  const state = join(work, "state");
  for (const entry of files) cpSync(join(dir, entry), join(project, entry), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(project, "node_modules"));
  if (migrate) {
    for (const { binding } of d1Databases(readFileSync(join(project, "wrangler.toml"), "utf8"))) {
      const run = spawnSync(
        wrangler,
        ["d1", "migrations", "apply", binding, "--local", "--persist-to", state],
        {
          cwd: project,
          env: { ...process.env, CI: "true" },
          encoding: "utf8",
        },
      );
      if (run.status !== 0) throw new Error(`migrations of ${binding} failed:\n${run.stderr}`);
    }
  }
  const port = await freePort();
  const args = [
    "dev",
    ...(entry ? [entry] : []),
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    state,
    "--test-scheduled",
  ];
  // Wrangler's DevTools inspector, on a port of its own, for a CPU profile (scripts/bench/profile.mjs).
  const inspectorPort = inspect ? await freePort() : null;
  if (inspectorPort) args.push("--inspector-port", String(inspectorPort));
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  // The Worker's own log lines (one per attempt) go to a file, kept when WRANGLER_LOG_FILE names one.
  const logFile = process.env.WRANGLER_LOG_FILE ?? join(work, "wrangler.log");
  const log = openSync(logFile, "w");
  const child = spawn(wrangler, args, { cwd: project, stdio: ["ignore", log, "inherit"] });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error("wrangler dev exited");
    try {
      await fetch(base);
      break;
    } catch {}
    if (Date.now() > deadline) throw new Error("wrangler dev did not start within 60 s");
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    base,
    logFile,
    project,
    state,
    inspector: inspectorPort ? `http://127.0.0.1:${inspectorPort}` : null,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * The service, as `wrangler dev` runs it, with `vars` on top of wrangler.toml's and fresh secrets.
 * With `metered`, the bench's wrapper Worker (bench/metered/index.ts) runs instead, logging each
 * invocation's operations. `triggerCron()` runs the cron trigger as the platform would.
 */
export async function startLocalService(vars, { metered = false, inspect = false } = {}) {
  const adminToken = `local_${randomBytes(16).toString("hex")}`;
  const secretsKey = randomBytes(32).toString("base64");
  const files = ["src", "migrations", "wrangler.toml", "package.json", "tsconfig.json"];
  const dev = await startWranglerDev({
    dir: root,
    files: metered ? [...files, "bench/metered"] : files,
    vars: { ALLOW_INSECURE_URLS: "true", ...vars, ADMIN_TOKEN: adminToken, SECRETS_KEY: secretsKey },
    migrate: true,
    inspect,
    // The wrapper as the entry of the service's own wrangler.toml (`wrangler dev <entry>` overrides
    // `main`), not a config of its own: wrangler.toml stays the one place bindings, queue settings and
    // vars are declared, and the metered run gets exactly the shipped ones.
    entry: metered ? "bench/metered/index.ts" : undefined,
  });
  return {
    ...dev,
    adminToken,
    secretsKey,
    async triggerCron() {
      await fetch(`${dev.base}/__scheduled?cron=*/5+*+*+*+*`);
    },
    /** Rows and bytes of each shard of this deployment (shardUsage). */
    shardUsage: () => shardUsage(dev),
  };
}

/**
 * Each data-plane shard of a local deployment (the `DB_SHARD_<n>` bindings of its wrangler.toml), by
 * binding: `{ sizeBytes, events, deliveries }`, `sizeBytes` being D1's `meta.size_after`, the figure
 * the bench's metered route reads and D1 bills (bench/metered/storage.ts); shard 0 is the primary
 * database, so its bytes include the control plane. Read while the service runs (SQLite serves both)
 * through wrangler's local D1 (`getPlatformProxy`) on the deployment's state directory, with a config of
 * the shards' bindings only: `wrangler d1 execute --local` gives the rows but not `size_after`.
 */
export async function shardUsage({ project, state }) {
  const configText = readFileSync(join(project, "wrangler.toml"), "utf8");
  const shards = d1Databases(configText).filter(({ binding }) => /^DB_SHARD_\d+$/.test(binding));
  const configPath = join(project, "..", "shard-usage.wrangler.json");
  const config = {
    name: "shard-usage",
    compatibility_date: configText.match(/^compatibility_date\s*=\s*"([^"]+)"/m)?.[1],
    d1_databases: shards.map(({ binding, name, id }) => ({ binding, database_name: name, database_id: id })),
  };
  writeFileSync(configPath, JSON.stringify(config));
  // wrangler dev --persist-to <state> keeps its data in <state>/v3, where getPlatformProxy's path points.
  const { getPlatformProxy } = await import("wrangler");
  const proxy = await getPlatformProxy({
    configPath,
    persist: { path: join(state, "v3") },
    remoteBindings: false,
  });
  try {
    const usage = {};
    for (const { binding } of shards) {
      // Every table of each kind: the weeks' (src/db/buckets.ts) and, in shard 0, the legacy one.
      const db = proxy.env[binding];
      const { results: tables, meta } = await db
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'table'
           AND (name IN ('events', 'deliveries') OR name GLOB 'events_w*' OR name GLOB 'deliveries_w*')`)
        .all();
      const rows = async (kind) => {
        let total = 0;
        for (const { name } of tables.filter((t) => t.name === kind || t.name.startsWith(`${kind}_w`)))
          total += (await db.prepare(`SELECT COUNT(*) AS n FROM ${name}`).first("n")) ?? 0;
        return total;
      };
      usage[binding] = {
        sizeBytes: meta.size_after,
        events: await rows("events"),
        deliveries: await rows("deliveries"),
      };
    }
    return usage;
  } finally {
    await proxy.dispose();
  }
}

/**
 * A small table of shard readings (`shardUsage()`, or the bench's /__bench/d1 for the shards): one
 * line per shard with its events and deliveries rows and its bytes; with `before`, a reading taken
 * earlier, also how much each grew since. Returns the lines.
 */
export function shardTable(after, before) {
  const grown = (binding, key) => {
    const growth = after[binding][key] - (before?.[binding]?.[key] ?? 0);
    return `${growth >= 0 ? "+" : ""}${growth}`;
  };
  const cells = (binding, key, width) =>
    before
      ? `${String(after[binding][key]).padStart(width)} ${grown(binding, key).padStart(width)}`
      : String(after[binding][key]).padStart(width);
  const head = (label, width) =>
    before ? `${label.padStart(width)} ${"growth".padStart(width)}` : label.padStart(width);
  const bindings = Object.keys(after).filter((binding) => /^DB_SHARD_\d+$/.test(binding));
  return [
    `${"shard".padEnd(12)} ${head("events", 8)} ${head("deliveries", 10)} ${head("bytes", 11)}`,
    ...bindings.map(
      (binding) =>
        `${binding.padEnd(12)} ${cells(binding, "events", 8)} ${cells(binding, "deliveries", 10)} ${cells(binding, "sizeBytes", 11)}`,
    ),
  ];
}

/** The bare baseline Worker of bench/baseline, for the benchmark's yardstick. */
export function startBaseline({ inspect = false } = {}) {
  return startWranglerDev({
    dir: join(root, "bench/baseline"),
    files: ["src", "wrangler.toml"],
    vars: {},
    migrate: false,
    inspect,
  });
}

/**
 * CPU time, in ms, used so far by each workerd process (the local runtime, with its simulated D1,
 * Queues and Durable Objects) that this process started, through wrangler, by pid: the machine's other
 * workerd processes (another checkout's tests, say) are not counted. Linux only; empty elsewhere.
 */
export function workerdCpu() {
  const stats = new Map(); // pid → { command, parent, cpuMs }
  for (const pid of existsSync("/proc") ? readdirSync("/proc") : []) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      // After the parenthesised command name: the parent's pid is the 2nd field, utime and stime the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      stats.set(pid, {
        command,
        parent: fields[1],
        cpuMs: (Number(fields[11]) + Number(fields[12])) * 10, // USER_HZ is 100 on Linux
      });
    } catch {} // the process ended meanwhile
  }
  const ours = (pid) => {
    for (let at = pid, hops = 0; at && hops < 64; at = stats.get(at)?.parent, hops++) {
      if (at === String(process.pid)) return true;
    }
    return false;
  };
  const byPid = new Map();
  for (const [pid, { command, cpuMs }] of stats) {
    if (command === "workerd" && ours(pid)) byPid.set(pid, cpuMs);
  }
  return byPid;
}

/** CPU ms the workerd processes running now have used since `before` (a workerdCpu() reading). */
export function workerdCpuSince(before) {
  let ms = 0;
  for (const [pid, now] of workerdCpu()) ms += now - (before.get(pid) ?? 0);
  return ms;
}

/** JSON API call; waits out a 429 as its Retry-After says, throws on any other unexpected status. */
export async function api(base, token, method, path, body) {
  for (;;) {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (response.status === 429) {
      await new Promise((r) => setTimeout(r, Number(response.headers.get("retry-after") ?? 1) * 1000));
      continue;
    }
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
}

/** A fresh organization named `name` on a local service, and an API key for it. */
export async function organizationWithKey({ base, adminToken }, name) {
  const { organization } = await api(base, adminToken, "POST", "/admin/v1/organizations", { name });
  const path = `/admin/v1/organizations/${organization.id}/api_keys`;
  const { token } = await api(base, adminToken, "POST", path, { name });
  return { organization, token };
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at a time. */
export async function pool(count, concurrency, task) {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await task(next++);
  });
  await Promise.all(workers);
}

/** Every item of a list, following nextCursor. */
export async function listAll(base, token, path) {
  const items = [];
  let cursor = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const page = await api(
      base,
      token,
      "GET",
      `${path}${separator}limit=100${cursor ? `&cursor=${cursor}` : ""}`,
    );
    items.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}
