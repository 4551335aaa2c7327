import { timeOfId } from "../lib/ids";
import type { PayloadStore } from "./payloads";
import type { Queryable } from "./queryable";

/**
 * Events and deliveries are kept in tables per week (docs/scale.md#retention-by-time-bucket):
 * `events_w<n>` and `deliveries_w<n>` hold the rows whose id names a time in week n since the epoch
 * (a delivery's id names its event's time, so an event and its deliveries, replays included, share a
 * week). Retention drops a week's two tables whole once the week is past RETENTION_DAYS: no row is
 * deleted one by one, and D1 bills a DROP as the few schema rows it changes, not as the rows it held.
 *
 * A shard that held events and deliveries before weeks existed (shard 0 of an older deployment) keeps
 * them in its tables `events` and `deliveries`, the legacy bucket, for every id whose time is before
 * `legacyUntil` (migrations/data/0001); they are removed row by row until the last of them expires,
 * then dropped.
 */
export const BUCKET_MS = 7 * 86_400_000;

export type HistoryKind = "events" | "deliveries";

/** A week since the epoch, or the tables from before weeks. */
export type Bucket = number | "legacy";

/**
 * A shard's history: the database (or a session of it), where its legacy bucket ends, a name of the
 * database that stays the same for the isolate's life (its binding's), and where event data too large
 * for a row goes (db/payloads.ts; null: every event's data stays in its row).
 */
export type History = { db: Queryable; legacyUntil: number; key: string; payloads: PayloadStore | null };

export const bucketOfTime = (h: History, ms: number): Bucket =>
  ms < h.legacyUntil ? "legacy" : Math.floor(ms / BUCKET_MS);

export const bucketOfId = (h: History, id: string): Bucket => bucketOfTime(h, timeOfId(id));

export const tableOf = (kind: HistoryKind, bucket: Bucket): string =>
  bucket === "legacy" ? kind : `${kind}_w${bucket}`;

/** The table that holds (or will hold) the row of `id`. */
export const tableOfId = (h: History, kind: HistoryKind, id: string): string =>
  tableOf(kind, bucketOfId(h, id));

/** The time range [from, to) of a bucket's ids. */
export function bucketRange(h: History, bucket: Bucket): { from: number; to: number } {
  if (bucket === "legacy") return { from: 0, to: h.legacyUntil };
  return { from: Math.max(bucket * BUCKET_MS, h.legacyUntil), to: (bucket + 1) * BUCKET_MS };
}

/** `ids` grouped by the bucket that holds each. */
export function groupByBucket<T extends string>(h: History, ids: readonly T[]): Map<Bucket, T[]> {
  return Map.groupBy(ids, (id) => bucketOfId(h, id));
}

/** The buckets that exist, newest first (the legacy bucket, whose ids are older than any week's, last). */
export async function liveBuckets(h: Pick<History, "db">): Promise<Bucket[]> {
  const { results } = await h.db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND (name = 'events' OR name GLOB 'events_w[0-9]*')",
    )
    .all<{ name: string }>();
  const weeks = results
    .map(({ name }) => (name === "events" ? null : Number(name.slice("events_w".length))))
    .filter((week): week is number => week !== null)
    .sort((a, b) => b - a);
  return results.some(({ name }) => name === "events") ? [...weeks, "legacy"] : weeks;
}

/**
 * The live buckets that can hold ids of times in [from, to), newest first. A bucket not created yet
 * holds nothing, so it is not read.
 */
export async function bucketsBetween(h: History, from: number, to: number): Promise<Bucket[]> {
  return (await liveBuckets(h)).filter((bucket) => {
    const range = bucketRange(h, bucket);
    return range.from < to && range.to > from;
  });
}

/**
 * Rows of `kind` whose `sweep_after` has passed (the sweeper's), the most overdue first, `limit` at
 * most: each live bucket's through its partial index on sweep_after, in one batch.
 */
export async function overdue<Row>(
  h: History,
  kind: HistoryKind,
  columns: string,
  now: string,
  limit: number,
): Promise<Row[]> {
  const buckets = await liveBuckets(h);
  if (buckets.length === 0) return [];
  const results = await orEmpty(
    h.db.batch<Row & { sweep_after: string }>(
      buckets.map((bucket) =>
        h.db
          .prepare(
            `SELECT ${columns}, sweep_after FROM ${tableOf(kind, bucket)}
             WHERE sweep_after IS NOT NULL AND sweep_after <= ? ORDER BY sweep_after LIMIT ?`,
          )
          .bind(now, limit),
      ),
    ),
    [],
  );
  return results
    .flatMap((result) => result.results)
    .sort((a, b) => (a.sweep_after < b.sweep_after ? -1 : a.sweep_after > b.sweep_after ? 1 : 0))
    .slice(0, limit);
}

// Weeks whose tables this isolate made sure of, per database: a week's tables are created once, by the
// first write into it, with IF NOT EXISTS (two writers racing both succeed).
const ensured = new Map<string, Set<number>>();

/** Makes sure the tables of the buckets of these ids exist, before rows are written into them. */
export async function ensureBuckets(h: History, ids: Iterable<string>): Promise<void> {
  const known = ensured.get(h.key) ?? new Set<number>();
  ensured.set(h.key, known);
  const missing = new Set<number>();
  for (const id of ids) {
    const bucket = bucketOfId(h, id);
    if (bucket !== "legacy" && !known.has(bucket)) missing.add(bucket);
  }
  if (missing.size === 0) return;
  await Promise.all([...missing].map((week) => addOrderingColumns(h, week)));
  await h.db.batch([...missing].flatMap((week) => bucketSchema(week).map((sql) => h.db.prepare(sql))));
  for (const week of missing) known.add(week);
}

/**
 * A week's events table made before ordered delivery (migrations/data/0002) lacks `sequence` and
 * `ordering_key`: the first write into the week from an isolate adds them, once (a table that has them,
 * or not there yet, is left alone: bucketSchema makes it whole).
 */
async function addOrderingColumns(h: History, week: number): Promise<void> {
  const table = tableOf("events", week);
  const { results } = await h.db
    .prepare("SELECT name FROM pragma_table_info(?)")
    .bind(table)
    .all<{ name: string }>();
  if (results.length === 0 || results.some(({ name }) => name === "sequence")) return;
  try {
    await h.db.batch([
      h.db.prepare(`ALTER TABLE ${table} ADD COLUMN sequence INTEGER`),
      h.db.prepare(`ALTER TABLE ${table} ADD COLUMN ordering_key TEXT`),
    ]);
  } catch (error) {
    // Another isolate added them first.
    if (!/duplicate column/.test(String(error))) throw error;
  }
}

/** Drops a week's tables, one batch for both; a later write into the week would create them again. */
export async function dropBucket(h: History, week: number): Promise<void> {
  await h.db.batch([
    h.db.prepare(`DROP TABLE IF EXISTS ${tableOf("deliveries", week)}`),
    h.db.prepare(`DROP TABLE IF EXISTS ${tableOf("events", week)}`),
  ]);
  ensured.get(h.key)?.delete(week);
}

/** Drops the legacy tables, whose every row has expired, and their mark: from now on, weeks only. */
export async function dropLegacy(h: History): Promise<void> {
  await h.db.batch([
    h.db.prepare("DROP TABLE IF EXISTS deliveries"),
    h.db.prepare("DROP TABLE IF EXISTS events"),
    h.db.prepare("DELETE FROM history_legacy"),
  ]);
}

/**
 * A read of a bucket's table, or `empty` if the table is not there: a week no row was ever written
 * into, or one retention dropped while this read was on its way.
 */
export async function orEmpty<T>(read: Promise<T>, empty: T): Promise<T> {
  try {
    return await read;
  } catch (error) {
    if (/no such table/.test(String(error))) return empty;
    throw error;
  }
}

/**
 * A week's two tables: the schema of `events` and `deliveries` (what each column is for is said in
 * migrations/control/0001_init.sql to 0004, where the legacy tables were created), with their indexes
 * named after the week.
 */
function bucketSchema(week: number): string[] {
  const events = tableOf("events", week);
  const deliveries = tableOf("deliveries", week);
  return [
    `CREATE TABLE IF NOT EXISTS ${events} (
       organization_id TEXT NOT NULL,
       id TEXT NOT NULL,
       type TEXT NOT NULL,
       data TEXT NOT NULL,
       data_key TEXT,
       resources TEXT NOT NULL,
       occurred_at TEXT NOT NULL,
       created_at TEXT NOT NULL,
       sweep_after TEXT,
       idempotency_key TEXT,
       request_hash TEXT,
       fan_out_status TEXT NOT NULL DEFAULT 'done' CHECK (fan_out_status IN ('pending', 'done', 'failed')),
       fan_out_error TEXT,
       sweeps INTEGER NOT NULL DEFAULT 0,
       sequence INTEGER,
       ordering_key TEXT,
       PRIMARY KEY (organization_id, id)
     ) WITHOUT ROWID`,
    `CREATE UNIQUE INDEX IF NOT EXISTS ${events}_by_idempotency_key ON ${events} (organization_id, idempotency_key)
       WHERE idempotency_key IS NOT NULL`,
    `CREATE INDEX IF NOT EXISTS ${events}_to_sweep ON ${events} (sweep_after) WHERE sweep_after IS NOT NULL`,
    `CREATE TABLE IF NOT EXISTS ${deliveries} (
       organization_id TEXT NOT NULL,
       id TEXT NOT NULL,
       event_id TEXT NOT NULL,
       endpoint_id TEXT NOT NULL,
       event_type TEXT NOT NULL,
       status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
       attempt_count INTEGER NOT NULL DEFAULT 0,
       queue_retries INTEGER NOT NULL DEFAULT 0,
       next_attempt_at TEXT,
       lease_until TEXT,
       sweep_after TEXT,
       last_status_code INTEGER,
       last_error TEXT,
       replay_of TEXT,
       payload_override TEXT,
       created_at TEXT NOT NULL,
       delivered_at TEXT,
       attempts TEXT NOT NULL DEFAULT '[]',
       PRIMARY KEY (organization_id, id)
     ) WITHOUT ROWID`,
    `CREATE INDEX IF NOT EXISTS ${deliveries}_to_sweep ON ${deliveries} (sweep_after) WHERE sweep_after IS NOT NULL`,
    `CREATE INDEX IF NOT EXISTS ${deliveries}_failed_originals ON ${deliveries} (organization_id, endpoint_id, created_at)
       WHERE status = 'failed' AND replay_of IS NULL`,
  ];
}
