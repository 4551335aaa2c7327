import { timeOfId } from "../lib/ids";
import { bucketsBetween, type History, type HistoryKind, orEmpty, tableOf } from "./buckets";
import type { Queryable } from "./queryable";

/** Cursor pagination shared by every list: newest first by id, `nextCursor` is the last id returned. */
export type PageQuery = { limit: number; cursor?: string };
export type Page<T> = { data: T[]; nextCursor: string | null };

/** Lists fetch `limit + 1` rows; the extra row only tells whether another page exists. */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return { data, nextCursor: rows.length > limit && last ? last.id : null };
}

/** A condition holding one `?`, and its value; undefined when the caller did not ask for it. */
export type Condition = readonly [string, unknown];

/**
 * A `WHERE` clause from `[condition, value]` pairs; pairs whose value is undefined (a filter the caller
 * did not give) are left out. Each condition holds one `?`.
 */
export function where(filters: readonly Condition[]): {
  sql: string;
  params: unknown[];
} {
  const given = filters.filter(([, value]) => value !== undefined);
  return {
    sql: given.map(([condition]) => condition).join(" AND ") || "1 = 1",
    params: given.map(([, v]) => v),
  };
}

/**
 * `id IN (…)` for any number of ids, bound as one JSON array (`idList`): D1 binds at most 100
 * parameters per statement, and one statement instead of one per slice spares D1 a round of its own
 * work for each. The primary key is still used for each id.
 */
export const IN_ID_LIST = "IN (SELECT value FROM json_each(?))";
export const idList = (ids: readonly string[]) => JSON.stringify(ids);

/**
 * Rows of an organization's primary-key range that one page of a filtered list reads at most. Other
 * filters than the key's (endpoint, status, type, since) have no index: each index on deliveries
 * would cost a row written per delivery, on the hot path. So a filtered page reads this many rows
 * at most, and says where it stopped (see scanPage).
 */
export const MAX_SCANNED_ROWS = 1_000;

/**
 * A page of `table` (events or deliveries, keyed by (organization_id, id)), newest first. `range`
 * holds the primary-key conditions (organization, cursor, id bounds), `filters` the others. Without
 * filters it reads the page's rows and one more. With filters it reads at most MAX_SCANNED_ROWS rows
 * of the range: the matching ones make the page, and if the range goes on past the rows read,
 * `nextCursor` is the last row read, even when the page is short or empty. A client follows it as
 * any cursor; only a null `nextCursor` says the list is over.
 */
export async function scanPage<Row extends { id: string }>(
  db: Queryable,
  query: {
    table: string;
    columns: string;
    range: readonly Condition[];
    filters: readonly Condition[];
    limit: number;
  },
): Promise<Page<Row>> {
  const range = where(query.range);
  const filters = where(query.filters);
  if (filters.params.length === 0) {
    const { results } = await db
      .prepare(`SELECT ${query.columns} FROM ${query.table} WHERE ${range.sql} ORDER BY id DESC LIMIT ?`)
      .bind(...range.params, query.limit + 1)
      .all<Row>();
    return toPage(results, query.limit);
  }
  // The rows read are numbered newest first; the last one comes back even if it does not match, to
  // tell where the scan stopped. The scan streams: it stops early once the page is full.
  const { results } = await db
    .prepare(
      `SELECT * FROM (
         SELECT *, (${filters.sql}) AS scan_match, row_number() OVER (ORDER BY id DESC) AS scan_number
         FROM (SELECT ${query.columns} FROM ${query.table} WHERE ${range.sql} ORDER BY id DESC LIMIT ?)
       ) WHERE scan_match OR scan_number = ? LIMIT ?`,
    )
    .bind(...filters.params, ...range.params, MAX_SCANNED_ROWS, MAX_SCANNED_ROWS, query.limit + 1)
    .all<Row & { scan_match: number | null; scan_number: number }>();
  const read = results.sort((a, b) => (a.id < b.id ? 1 : -1));
  const matching = read.filter((row) => row.scan_match === 1);
  if (matching.length > query.limit) return toPage(matching, query.limit);
  const stop = read.find((row) => row.scan_number === MAX_SCANNED_ROWS);
  return { data: matching, nextCursor: stop?.id ?? null };
}

/**
 * A page of a shard's events or deliveries, kept in weekly tables (db/buckets.ts): scanPage on each
 * live week whose ids can be in [within.from, within.to) (times, from the list's bounds) and before
 * the cursor's, newest first, until the page is full or a week's scan stopped short of its end, whose
 * cursor is then the page's. So a filtered page reads at most MAX_SCANNED_ROWS rows of a week, and a
 * page that ends where a week does may carry a cursor to an empty page.
 */
export async function scanBuckets<Row extends { id: string }>(
  h: History,
  query: {
    kind: HistoryKind;
    columns: string;
    range: readonly Condition[];
    filters: readonly Condition[];
    limit: number;
    cursor?: string;
    within: { from?: number; to?: number };
  },
): Promise<Page<Row>> {
  const to = Math.min(
    query.within.to ?? Number.POSITIVE_INFINITY,
    query.cursor === undefined ? Number.POSITIVE_INFINITY : timeOfId(query.cursor) + 1,
  );
  const buckets = await bucketsBetween(h, query.within.from ?? 0, to);
  const data: Row[] = [];
  for (const [i, bucket] of buckets.entries()) {
    const page = await orEmpty(
      scanPage<Row>(h.db, { ...query, table: tableOf(query.kind, bucket), limit: query.limit - data.length }),
      { data: [], nextCursor: null },
    );
    data.push(...page.data);
    if (page.nextCursor !== null) return { data, nextCursor: page.nextCursor };
    const last = data.at(-1);
    if (data.length >= query.limit && last)
      return { data, nextCursor: i < buckets.length - 1 ? last.id : null };
  }
  return { data, nextCursor: null };
}
