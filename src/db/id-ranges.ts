import type { OrganizationId } from "../lib/ids";
import { IN_ID_LIST, idList } from "./page";
import type { Queryable } from "./queryable";

/**
 * Statements over an organization's ids in the two tables keyed by (organization_id, id), events and
 * deliveries, whose ids are time-sortable: which ids are stored, and retention's deletes by range.
 */
type Keyed = "events" | "deliveries";

/**
 * Ids per look-up: fan-out asks about every (event, endpoint) pair of a batch, up to 100 events times
 * an organization's endpoints. 20,000 ids are about 660 KB of JSON, within D1's 2 MB a value.
 */
const IDS_PER_LOOKUP = 20_000;

/**
 * Which of an organization's `ids` have a row in `table` (both are keyed by (organization_id, id)),
 * through the primary key, 20,000 ids a statement at most.
 */
export async function storedIds(
  db: Queryable,
  table: Keyed,
  organizationId: OrganizationId,
  ids: readonly string[],
): Promise<Set<string>> {
  const slices = Array.from({ length: Math.ceil(ids.length / IDS_PER_LOOKUP) }, (_, i) =>
    ids.slice(i * IDS_PER_LOOKUP, (i + 1) * IDS_PER_LOOKUP),
  );
  const found = await Promise.all(
    slices.map((slice) =>
      db
        .prepare(`SELECT id FROM ${table} WHERE organization_id = ? AND id ${IN_ID_LIST}`)
        .bind(organizationId, idList(slice))
        .all<{ id: string }>(),
    ),
  );
  return new Set(found.flatMap(({ results }) => results.map((r) => r.id)));
}

/** Retention: up to `limit` of an organization's rows made before `beforeId`; returns how many went. */
export async function deleteBefore(
  db: Queryable,
  table: Keyed,
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
