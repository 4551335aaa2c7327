#!/usr/bin/env node
// `npm run bundle`: proves the Worker bundles as `wrangler deploy` would (dry run, nothing uploaded),
// prints its size, and fails if it is over 1 MiB gzipped (Workers Free's limit; Paid allows 10 MiB).
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = join(root, "dist");
const LIMIT = 1024 * 1024;

rmSync(outdir, { recursive: true, force: true });
const build = spawnSync(
  join(root, "node_modules/.bin/wrangler"),
  ["deploy", "--dry-run", "--outdir", outdir],
  // Wrangler's warnings and errors only: its list of bindings is wrangler.toml's, said again.
  {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, CI: "true", WRANGLER_LOG: process.env.WRANGLER_LOG ?? "warn" },
  },
);
if (build.status !== 0) process.exit(build.status ?? 1);

let raw = 0;
let gzipped = 0;
for (const file of readdirSync(outdir).filter((f) => f.endsWith(".js"))) {
  const bytes = readFileSync(join(outdir, file));
  raw += bytes.length;
  gzipped += gzipSync(bytes).length;
}
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`Worker bundle: ${kib(raw)}, ${kib(gzipped)} gzipped (limit ${kib(LIMIT)} gzipped)`);
if (gzipped > LIMIT) {
  console.error("The bundle is over the limit.");
  process.exit(1);
}
