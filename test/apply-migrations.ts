import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { shards } from "../src/db/shards";

// Setup files may run more than once; applyD1Migrations only applies what is missing. As
// `npm run dev` and `npm run deploy` do: the control plane's migrations on DB, the data plane's on
// every shard, recorded in a table of their own (wrangler.toml's migrations_table).
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
for (const { db } of shards(env)) await applyD1Migrations(db, env.TEST_DATA_MIGRATIONS, "d1_migrations_data");
