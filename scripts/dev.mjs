#!/usr/bin/env node
// `npm run dev [-- <wrangler dev args>]`: everything a fresh checkout needs to run the service locally.
// 1. creates .dev.vars with random dev secrets if it is missing, 2. applies the D1 migrations to the
// local databases (the control plane's and every shard's), 3. starts `wrangler dev` (local D1, Queues, Durable Objects) with http:// and
// loopback endpoint URLs allowed, and prints the admin token to use.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { d1Databases } from "./d1-databases.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const devVars = `${root}.dev.vars`;
const wrangler = `${root}node_modules/.bin/wrangler`;

if (!existsSync(devVars)) {
  const adminToken = `dev_${randomBytes(24).toString("base64url")}`;
  const secretsKey = randomBytes(32).toString("base64");
  writeFileSync(devVars, `ADMIN_TOKEN=${adminToken}\nSECRETS_KEY=${secretsKey}\n`, { mode: 0o600 });
  console.log("Created .dev.vars with a fresh ADMIN_TOKEN and SECRETS_KEY.");
}
const adminToken = readFileSync(devVars, "utf8")
  .match(/^ADMIN_TOKEN=(.*)$/m)?.[1]
  ?.trim();

for (const { binding } of d1Databases(readFileSync(`${root}wrangler.toml`, "utf8"))) {
  const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", binding, "--local"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, CI: "true" }, // no confirmation prompt
  });
  if (migrate.status !== 0) process.exit(migrate.status ?? 1);
}

console.log(`\nAdmin token (Authorization: Bearer …): ${adminToken}\n`);

const dev = spawn(wrangler, ["dev", "--var", "ALLOW_INSECURE_URLS:true", ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
