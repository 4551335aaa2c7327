import type { OrganizationId } from "../lib/ids";
import { IN_ID_LIST, idList } from "./page";

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
  db: D1Database,
  table: "events" | "deliveries",
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
