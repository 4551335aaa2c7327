#!/usr/bin/env node
// `npm run deploy`: everything a Cloudflare account needs, then `wrangler deploy`.
// 1. creates what is missing: the D1 database (and writes its id into wrangler.toml), the three queues;
// 2. applies the D1 migrations to the remote database;
// 3. checks that the secrets ADMIN_TOKEN and SECRETS_KEY are set, and says how to set them if not;
// 4. deploys. Run `npx wrangler login` first (or set CLOUDFLARE_API_TOKEN).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
// Overridable so the script's own test can run it against a stand-in wrangler and a copy of the config.
const configPath = process.env.DEPLOY_CONFIG ?? join(root, "wrangler.toml");
const wranglerBin = process.env.WRANGLER_BIN ?? join(root, "node_modules/.bin/wrangler");
const PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000";
const QUEUES = ["webhook-events", "webhook-events-dlq", "webhook-deliveries", "webhook-deliveries-dlq"];
const SECRETS = ["ADMIN_TOKEN", "SECRETS_KEY"];

function wrangler(args, { capture = false, allowFailure = false } = {}) {
  const result = spawnSync(wranglerBin, [...args, "--config", configPath], {
    cwd: root,
    encoding: "utf8",
    stdio: capture ? ["inherit", "pipe", "inherit"] : "inherit",
  });
  if (result.status !== 0 && allowFailure) return "";
  if (result.status !== 0) {
    console.error(`\nwrangler ${args.join(" ")} failed.`);
    process.exit(result.status ?? 1);
  }
  return result.stdout ?? "";
}

const step = (text) => console.log(`\n▸ ${text}`);

step("Checking the Cloudflare login");
wrangler(["whoami"]);

step("D1 database");
const config = readFileSync(configPath, "utf8");
const databaseName = config.match(/database_name\s*=\s*"([^"]+)"/)?.[1] ?? "edge-webhooks";
const databases = JSON.parse(wrangler(["d1", "list", "--json"], { capture: true }));
let database = databases.find((d) => d.name === databaseName);
if (!database) {
  wrangler(["d1", "create", databaseName]);
  database = JSON.parse(wrangler(["d1", "list", "--json"], { capture: true })).find(
    (d) => d.name === databaseName,
  );
}
if (config.includes(PLACEHOLDER_ID)) {
  writeFileSync(configPath, config.replace(PLACEHOLDER_ID, database.uuid));
  console.log(`wrangler.toml now names database ${database.uuid}: commit it.`);
} else {
  console.log(`${databaseName} exists (${database.uuid}).`);
}

step("Queues");
const existing = wrangler(["queues", "list"], { capture: true });
for (const queue of QUEUES) {
  if (new RegExp(`\\b${queue}\\b`).test(existing)) console.log(`${queue} exists.`);
  else wrangler(["queues", "create", queue]);
}

step("Remote D1 migrations");
wrangler(["d1", "migrations", "apply", "DB", "--remote"]);

step("Secrets");
// Before the first deploy the Worker does not exist and has no secrets to list.
const listed = wrangler(["secret", "list", "--format", "json"], { capture: true, allowFailure: true });
const secrets = JSON.parse(listed || "[]");
const missing = SECRETS.filter((name) => !secrets.some((s) => s.name === name));
if (missing.length > 0) {
  console.log(`Missing: ${missing.join(", ")}. Set them, then run npm run deploy again:`);
  if (missing.includes("ADMIN_TOKEN"))
    console.log("  openssl rand -base64 32 | npx wrangler secret put ADMIN_TOKEN");
  if (missing.includes("SECRETS_KEY"))
    console.log("  openssl rand -base64 32 | npx wrangler secret put SECRETS_KEY");
  console.log("Keep SECRETS_KEY safe: without it the stored signing secrets cannot be read.");
  process.exit(1);
}

step("Deploying");
wrangler(["deploy"]);
