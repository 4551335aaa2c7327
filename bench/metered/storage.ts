/**
 * What the bench's whole-life cost needs beyond the operations of each invocation: how many bytes the
 * load left in D1, and what removing them costs. Served by the metered wrapper only
 * (bench/metered/index.ts), on the same bindings as the service it wraps; the shipped Worker has
 * neither route.
 *
 * `GET /__bench/d1`: for each D1 binding whose name starts with `DB` (`DB`, and `DB_SHARD_0`, … when
 * declared), the database's size in bytes and its `events` and `deliveries` rows. The size is D1's own
 * `meta.size_after`, "the size of the database after the query", which every result carries, locally
 * and deployed, and which is what the dashboard's storage metric (databaseSizeBytes) reports and D1
 * bills by the GB-month. Locally it is SQLite's page count × page size: tables, indexes, page slack and
 * all, nothing estimated (`PRAGMA page_count` × `page_size` is the same figure, but D1 supports only
 * some PRAGMA statements, and every result carries `size_after`). The bench reads it before and after
 * a load: the growth over the delivery rows the load wrote is bytes per delivered event.
 *
 * `POST /__bench/retention?now=<ms>`: the service's own retention (src/sweeper/retention.ts) with `now`
 * as its clock, on metered bindings, run again until a run removes nothing and its walk over the
 * organizations is complete; answers what it removed (rows counted before and after), the operations
 * that cost and `RETENTION_DAYS`. With a clock far ahead, it removes everything the load wrote, as a
 * cron run does: weekly tables dropped whole, legacy rows deleted. D1 bills each row a DELETE removes
 * as a row written (https://developers.cloudflare.com/d1/platform/pricing/), and a DROP as the schema
 * rows it changes, so its `d1RowsWritten` over the deliveries removed is the removal's share of a
 * delivery's cost.
 */
import { getConfig } from "../../src/config";
import { BUCKET_MS, liveBuckets, tableOf } from "../../src/db/buckets";
import { getCronCursor } from "../../src/db/cron-cursors";
import { applyRetention } from "../../src/sweeper/retention";
import { d1Bindings, meteredEnv, noOperations } from "./metering";

export const BENCH_ROUTES = "/__bench/";

/** Retention runs at most per request: each cron run is bounded (500 rows a DELETE, 200 DELETEs). */
const MAX_RETENTION_RUNS = 1_000;

export type DatabaseSize = { sizeBytes: number; events: number | null; deliveries: number | null };

export async function benchRoute(request: Request, env: Env): Promise<Response> {
  const url = new URL(request.url);
  if (request.method === "GET" && url.pathname === `${BENCH_ROUTES}d1`) {
    const sizes = await Promise.all(d1Bindings(env).map(async ([name, db]) => [name, await sizeOf(db)]));
    return Response.json({ databases: Object.fromEntries(sizes) });
  }
  if (request.method === "POST" && url.pathname === `${BENCH_ROUTES}retention`) {
    const now = Number(url.searchParams.get("now"));
    if (!Number.isSafeInteger(now)) return new Response("now: milliseconds since the epoch", { status: 400 });
    return Response.json(await retentionAt(env, now));
  }
  return new Response("Not found", { status: 404 });
}

async function sizeOf(db: D1Database): Promise<DatabaseSize> {
  // Events and deliveries are in weekly tables (src/db/buckets.ts), and in the legacy ones where a
  // database has them: every table of each kind is counted.
  const buckets = await liveBuckets({ db });
  const { meta } = await db.prepare("SELECT 1").all();
  const count = async (kind: "events" | "deliveries") => {
    let rows = 0;
    for (const bucket of buckets) {
      rows +=
        (await db.prepare(`SELECT COUNT(*) AS n FROM ${tableOf(kind, bucket)}`).first<number>("n")) ?? 0;
    }
    return rows;
  };
  return { sizeBytes: meta.size_after, events: await count("events"), deliveries: await count("deliveries") };
}

/** Events and deliveries on the data plane: the shards' databases (shard 0 is `DB` itself), else `DB`. */
async function dataPlaneRows(env: Env): Promise<{ events: number; deliveries: number }> {
  const bindings = d1Bindings(env);
  const shards = bindings.filter(([name]) => name.startsWith("DB_SHARD_"));
  const sizes = await Promise.all((shards.length > 0 ? shards : bindings).map(([, db]) => sizeOf(db)));
  return {
    events: sizes.reduce((sum, size) => sum + (size.events ?? 0), 0),
    deliveries: sizes.reduce((sum, size) => sum + (size.deliveries ?? 0), 0),
  };
}

async function retentionAt(env: Env, now: number) {
  const operations = noOperations();
  const metered = meteredEnv(env, operations);
  const before = await dataPlaneRows(env);
  let runs = 0;
  while (runs < MAX_RETENTION_RUNS) {
    runs++;
    const report = await applyRetention(metered, now);
    const walkComplete = (await getCronCursor(env.DB, "retention")) === "";
    if (report.weeks + report.legacyEvents + report.legacyDeliveries === 0 && walkComplete) break;
  }
  const after = await dataPlaneRows(env);
  const removed = { events: before.events - after.events, deliveries: before.deliveries - after.deliveries };
  const retentionDays = getConfig(env).retentionDays;
  // Weeks go whole once their last moment is RETENTION_DAYS old: a row is kept half a week more on average.
  const keptDays = retentionDays + BUCKET_MS / 2 / 86_400_000;
  return { now, retentionDays, keptDays, runs, removed, operations };
}
