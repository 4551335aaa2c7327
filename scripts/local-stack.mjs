// Shared by the soak and benchmark scripts: a throwaway local deployment (`wrangler dev` with its own
// state directory, migrations applied) and a few helpers to drive it. Loopback only.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, openSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

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
 * A copy of the Worker's sources in a temporary directory: `wrangler dev` reloads on every change to
 * the files it serves, which would drop its in-memory queues in the middle of a long run.
 */
function snapshotProject(into) {
  for (const entry of ["src", "migrations", "wrangler.toml", "package.json", "tsconfig.json"]) {
    cpSync(join(root, entry), join(into, entry), { recursive: true });
  }
  symlinkSync(join(root, "node_modules"), join(into, "node_modules"));
}

/**
 * Starts `wrangler dev` from a snapshot of the project, on a fresh state directory, with `vars`;
 * resolves once it answers. `triggerCron()` runs the cron trigger as the platform would.
 */
export async function startLocalService(vars) {
  const work = mkdtempSync(join(tmpdir(), "edge-webhooks-"));
  const project = join(work, "project");
  const state = join(work, "state");
  snapshotProject(project);
  const port = await freePort();
  const adminToken = `local_${randomBytes(16).toString("hex")}`;
  const secretsKey = randomBytes(32).toString("base64");
  const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
    cwd: project,
    env: { ...process.env, CI: "true" },
    encoding: "utf8",
  });
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stderr}`);
  const allVars = { ALLOW_INSECURE_URLS: "true", ...vars, ADMIN_TOKEN: adminToken, SECRETS_KEY: secretsKey };
  const args = [
    "dev",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    state,
    "--test-scheduled",
  ];
  for (const [name, value] of Object.entries(allVars)) args.push("--var", `${name}:${value}`);
  // The Worker's own log lines (one per attempt) go to a file, kept when WRANGLER_LOG_FILE names one.
  const log = openSync(process.env.WRANGLER_LOG_FILE ?? join(work, "wrangler.log"), "w");
  const child = spawn(wrangler, args, { cwd: project, stdio: ["ignore", log, "inherit"] });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error("wrangler dev exited");
    try {
      if ((await fetch(`${base}/openapi.json`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error("wrangler dev did not start within 60 s");
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    base,
    adminToken,
    async triggerCron() {
      await fetch(`${base}/__scheduled?cron=*/5+*+*+*+*`);
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(work, { recursive: true, force: true });
    },
  };
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
