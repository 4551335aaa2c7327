import type { OrganizationId } from "../lib/ids";
import { groupByBucket, type History, type HistoryKind, orEmpty, tableOf } from "./buckets";
import { IN_ID_LIST, idList } from "./page";
import type { Queryable } from "./queryable";

/**
 * Statements over an organization's ids in the tables keyed by (organization_id, id), events and
 * deliveries, whose ids are time-sortable: which ids are stored, and retention's deletes by range in
 * the legacy tables (db/buckets.ts).
 */

/**
 * Ids per look-up: fan-out asks about every (event, endpoint) pair of a batch, up to 100 events times
 * an organization's endpoints. 20,000 ids are about 660 KB of JSON, within D1's 2 MB a value.
 */
const IDS_PER_LOOKUP = 20_000;

/**
 * Which of an organization's `ids` have a row of `kind`, through the primary key of each id's week,
 * 20,000 ids a statement at most.
 */
export async function storedIds(
  h: History,
  kind: HistoryKind,
  organizationId: OrganizationId,
  ids: readonly string[],
): Promise<Set<string>> {
  const lookups = [...groupByBucket(h, ids)].flatMap(([bucket, inBucket]) =>
    Array.from({ length: Math.ceil(inBucket.length / IDS_PER_LOOKUP) }, (_, i) => ({
      table: tableOf(kind, bucket),
      slice: inBucket.slice(i * IDS_PER_LOOKUP, (i + 1) * IDS_PER_LOOKUP),
    })),
  );
  const found = await Promise.all(
    lookups.map(({ table, slice }) =>
      orEmpty(
        h.db
          .prepare(`SELECT id FROM ${table} WHERE organization_id = ? AND id ${IN_ID_LIST}`)
          .bind(organizationId, idList(slice))
          .all<{ id: string }>()
          .then(({ results }) => results),
        [],
      ),
    ),
  );
  return new Set(found.flat().map((r) => r.id));
}

/**
 * Retention in a legacy table (`events` or `deliveries`, db/buckets.ts): up to `limit` of an
 * organization's rows made before `beforeId`; returns how many went.
 */
export async function deleteBefore(
  db: Queryable,
  table: HistoryKind,
  organizationId: OrganizationId,
  beforeId: string,
  limit: number,
): Promise<number> {
  const { meta } = await db
    .prepare(
      `DELETE FROM ${table} WHERE organization_id = ?1 AND id IN
         (SELECT id FROM ${table} WHERE organization_id = ?1 AND id < ?2 LIMIT ?3)`,
    )
    .bind(organizationId, beforeId, limit)
    .run();
  return meta.changes;
}
