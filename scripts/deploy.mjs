#!/usr/bin/env node
// `npm run deploy`: everything a Cloudflare account needs, then `wrangler deploy`.
// 1. creates what is missing: the D1 databases, the control plane's and each shard's (and writes their
//    ids into wrangler.toml), the queues, the R2 bucket of large event data and its lifecycle rule;
// 2. applies the D1 migrations: the control plane's to DB, the data plane's to every DB_SHARD_<n>;
// 3. checks that the secrets ADMIN_TOKEN and SECRETS_KEY are set, and says how to set them if not;
// 4. deploys. Run `npx wrangler login` first (or set CLOUDFLARE_API_TOKEN).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { d1Databases, isPlaceholderId } from "./d1-databases.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
// Overridable so the script's own test can run it against a stand-in wrangler and a copy of the config.
const configPath = process.env.DEPLOY_CONFIG ?? join(root, "wrangler.toml");
const wranglerBin = process.env.WRANGLER_BIN ?? join(root, "node_modules/.bin/wrangler");
const QUEUES = [
  "webhook-events",
  "webhook-events-dlq",
  "webhook-deliveries",
  "webhook-deliveries-slow",
  "webhook-deliveries-dlq",
];
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

step("D1 databases");
let config = readFileSync(configPath, "utf8");
const bound = d1Databases(config);
const listDatabases = () => JSON.parse(wrangler(["d1", "list", "--json"], { capture: true }));
let databases = listDatabases();
const names = [...new Set(bound.map((d) => d.name))];
const missingNames = names.filter((name) => !databases.some((d) => d.name === name));
for (const name of missingNames) wrangler(["d1", "create", name]);
if (missingNames.length > 0) databases = listDatabases();
for (const { binding, name, id } of bound) {
  const database = databases.find((d) => d.name === name);
  if (isPlaceholderId(id)) {
    config = config.replaceAll(`"${id}"`, `"${database.uuid}"`);
    console.log(`${binding}: wrangler.toml now names database ${name} (${database.uuid}): commit it.`);
  } else {
    console.log(`${binding}: ${name} exists (${database.uuid}).`);
  }
}
writeFileSync(configPath, config);

step("Queues");
const existing = wrangler(["queues", "list"], { capture: true });
for (const queue of QUEUES) {
  if (new RegExp(`\\b${queue}\\b`).test(existing)) console.log(`${queue} exists.`);
  else wrangler(["queues", "create", queue]);
}

step("R2 bucket");
const bucket = config.match(/bucket_name\s*=\s*"([^"]+)"/)?.[1] ?? "edge-webhooks-payloads";
if (new RegExp(`\\b${bucket}\\b`).test(wrangler(["r2", "bucket", "list"], { capture: true })))
  console.log(`${bucket} exists.`);
else wrangler(["r2", "bucket", "create", bucket]);
// Event data in R2 lives as long as its row: RETENTION_DAYS and at most a week more (weekly tables go
// whole, src/db/buckets.ts), then a day's margin. Set, not added, so a changed RETENTION_DAYS applies.
const retentionDays = Number(config.match(/^RETENTION_DAYS\s*=\s*"(\d+)"/m)?.[1] ?? "30");
const lifecycle = join(mkdtempSync(join(tmpdir(), "edge-webhooks-")), "lifecycle.json");
writeFileSync(
  lifecycle,
  JSON.stringify({
    rules: [
      {
        id: "expire-event-data",
        enabled: true,
        conditions: { prefix: "events/" },
        deleteObjectsTransition: { condition: { type: "Age", maxAge: (retentionDays + 8) * 86_400 } },
      },
    ],
  }),
);
wrangler(["r2", "bucket", "lifecycle", "set", bucket, "--file", lifecycle, "--force"]);

step("Remote D1 migrations");
for (const { binding } of bound) wrangler(["d1", "migrations", "apply", binding, "--remote"]);

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
