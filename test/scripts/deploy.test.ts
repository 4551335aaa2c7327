import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");

/** Runs `npm run deploy`'s script against a stand-in wrangler and an account in the given state. */
function deploy(account: {
  databases: { name: string; uuid: string }[];
  queues: string[];
  secrets: string[];
  buckets?: string[];
}) {
  const dir = mkdtempSync(join(tmpdir(), "deploy-test-"));
  const config = join(dir, "wrangler.toml");
  copyFileSync(join(root, "wrangler.toml"), config);
  const statePath = join(dir, "account.json");
  writeFileSync(statePath, JSON.stringify(account));
  const run = spawnSync(process.execPath, [join(root, "scripts/deploy.mjs")], {
    encoding: "utf8",
    env: {
      ...process.env,
      WRANGLER_BIN: join(import.meta.dirname, "fake-wrangler.mjs"),
      DEPLOY_CONFIG: config,
      FAKE_ACCOUNT: statePath,
    },
  });
  const calls = readFileSync(`${statePath}.calls`, "utf8")
    .trim()
    .split("\n")
    .map((call) => call.replace(/--file \S+/, "--file <lifecycle.json>"));
  return {
    status: run.status,
    output: run.stdout + run.stderr,
    calls,
    config: readFileSync(config, "utf8"),
    account: JSON.parse(readFileSync(statePath, "utf8")),
  };
}

/** Each D1 binding's database id in the config. */
const databaseIds = (config: string) =>
  Object.fromEntries(
    [
      ...config.matchAll(/binding = "(DB\w*)"\ndatabase_name = "[^"]+"\n(?:#.*\n)*database_id = "([^"]+)"/g),
    ].map(([, binding, id]) => [binding, id]),
  );

describe("npm run deploy", () => {
  it("creates what is missing, migrates every database, and stops with instructions while secrets are missing", () => {
    const result = deploy({ databases: [], queues: ["webhook-events"], secrets: ["ADMIN_TOKEN"] });
    expect(result.calls).toEqual([
      "whoami",
      "d1 list --json",
      "d1 create edge-webhooks",
      "d1 create edge-webhooks-shard-1",
      "d1 create edge-webhooks-shard-2",
      "d1 list --json",
      "queues list",
      "queues create webhook-events-dlq",
      "queues create webhook-deliveries",
      "queues create webhook-deliveries-slow",
      "queues create webhook-deliveries-dlq",
      "r2 bucket list",
      "r2 bucket create edge-webhooks-payloads",
      "r2 bucket lifecycle set edge-webhooks-payloads --file <lifecycle.json> --force",
      "d1 migrations apply DB --remote",
      "d1 migrations apply DB_SHARD_0 --remote",
      "d1 migrations apply DB_SHARD_1 --remote",
      "d1 migrations apply DB_SHARD_2 --remote",
      "secret list --format json",
    ]);
    // DB and DB_SHARD_0 are one database (shard 0 is the primary); the others are databases of their own.
    expect(databaseIds(result.config)).toEqual({
      DB: "11111111-2222-4333-8444-000000000001",
      DB_SHARD_0: "11111111-2222-4333-8444-000000000001",
      DB_SHARD_1: "11111111-2222-4333-8444-000000000002",
      DB_SHARD_2: "11111111-2222-4333-8444-000000000003",
    });
    // Large event data expires in R2 a day after its rows at the latest: 30 days, a week, a day.
    expect(result.account.lifecycle.rules).toEqual([
      expect.objectContaining({
        conditions: { prefix: "events/" },
        deleteObjectsTransition: { condition: { type: "Age", maxAge: 38 * 86_400 } },
      }),
    ]);
    expect(result.output).toContain("npx wrangler secret put SECRETS_KEY");
    expect(result.output).not.toContain("secret put ADMIN_TOKEN");
    expect(result.status).toBe(1);
  });

  it("deploys once everything exists", () => {
    const result = deploy({
      databases: [
        { name: "edge-webhooks", uuid: "99999999-2222-4333-8444-555555555555" },
        { name: "edge-webhooks-shard-1", uuid: "99999999-2222-4333-8444-666666666666" },
        { name: "edge-webhooks-shard-2", uuid: "99999999-2222-4333-8444-777777777777" },
      ],
      queues: [
        "webhook-events",
        "webhook-events-dlq",
        "webhook-deliveries",
        "webhook-deliveries-slow",
        "webhook-deliveries-dlq",
      ],
      secrets: ["ADMIN_TOKEN", "SECRETS_KEY"],
      buckets: ["edge-webhooks-payloads"],
    });
    expect(result.calls).toEqual([
      "whoami",
      "d1 list --json",
      "queues list",
      "r2 bucket list",
      "r2 bucket lifecycle set edge-webhooks-payloads --file <lifecycle.json> --force",
      "d1 migrations apply DB --remote",
      "d1 migrations apply DB_SHARD_0 --remote",
      "d1 migrations apply DB_SHARD_1 --remote",
      "d1 migrations apply DB_SHARD_2 --remote",
      "secret list --format json",
      "deploy",
    ]);
    expect(databaseIds(result.config)).toEqual({
      DB: "99999999-2222-4333-8444-555555555555",
      DB_SHARD_0: "99999999-2222-4333-8444-555555555555",
      DB_SHARD_1: "99999999-2222-4333-8444-666666666666",
      DB_SHARD_2: "99999999-2222-4333-8444-777777777777",
    });
    expect(result.status).toBe(0);
  });
});
