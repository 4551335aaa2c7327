import type { EndpointToWrite, HeaderValues } from "../../domain/endpoint";
import type { EndpointId } from "../../lib/ids";
import { type EndpointRow, headerValuesOf, sealedColumn } from "./rows";

/** What re-encryption under a new SECRETS_KEY reads and writes of endpoints' header values (sweeper/reencrypt-secrets.ts). */

/**
 * An endpoint's header values as re-encryption found them: `stored` is the column's text, so the
 * update can tell whether anything changed them since.
 */
export type HeaderValuesToReseal = {
  id: EndpointId;
  headerValues: Exclude<HeaderValues, { state: "none" }>;
  stored: string;
};

/**
 * Up to `limit` endpoints whose header values the key `currentKeyId` did not seal, those in clear and
 * those under `readableKeyIds` first (no configured key opens the others). migrations/control/0002 indexes
 * `header_values_key_id`: '' for values in clear, NULL for none.
 */
export async function listHeaderValuesToReseal(
  db: D1Database,
  keys: { currentKeyId: string; readableKeyIds: readonly string[] },
  limit: number,
): Promise<HeaderValuesToReseal[]> {
  const { results } = await db
    .prepare(
      `SELECT id, header_values, legacy_header_values FROM endpoints
       WHERE header_values_key_id < ?1 OR header_values_key_id > ?1
       ORDER BY header_values_key_id = '' OR header_values_key_id IN (SELECT value FROM json_each(?2)) DESC
       LIMIT ?3`,
    )
    .bind(keys.currentKeyId, JSON.stringify(keys.readableKeyIds), limit)
    .all<Pick<EndpointRow, "id" | "header_values" | "legacy_header_values">>();
  return results.flatMap((row) => {
    const headerValues = headerValuesOf(row);
    const stored = row.legacy_header_values ?? row.header_values;
    return headerValues.state === "none" || stored === null
      ? []
      : [{ id: row.id as EndpointId, headerValues, stored }];
  });
}

/** How many endpoints have header values the key `currentKeyId` did not seal (each range by index). */
export async function countHeaderValuesToReseal(db: D1Database, currentKeyId: string): Promise<number> {
  const n = await db
    .prepare(
      `SELECT (SELECT COUNT(*) FROM endpoints WHERE header_values_key_id < ?1)
         + (SELECT COUNT(*) FROM endpoints WHERE header_values_key_id > ?1) AS n`,
    )
    .bind(currentKeyId)
    .first<number>("n");
  return n ?? 0;
}

/** Puts resealed header values (and their masks) in place of those found; a row changed since is left alone. */
export function resealHeaderValues(
  db: D1Database,
  found: HeaderValuesToReseal,
  sealed: Pick<EndpointToWrite, "maskedHeaders" | "headerValues">,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE endpoints SET header_values = ?, headers = ?, legacy_header_values = NULL
       WHERE id = ? AND COALESCE(legacy_header_values, header_values) = ?`,
    )
    .bind(sealedColumn(sealed.headerValues), JSON.stringify(sealed.maskedHeaders), found.id, found.stored);
}
