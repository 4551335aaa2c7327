/** Cursor pagination shared by every list: newest first by id, `nextCursor` is the last id returned. */
export type PageQuery = { limit: number; cursor?: string };
export type Page<T> = { data: T[]; nextCursor: string | null };

/** Lists fetch `limit + 1` rows; the extra row only tells whether another page exists. */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return { data, nextCursor: rows.length > limit && last ? last.id : null };
}

/**
 * A `WHERE` clause from `[condition, value]` pairs; pairs whose value is undefined (a filter the caller
 * did not give) are left out. Each condition holds one `?`.
 */
export function where(filters: ReadonlyArray<readonly [string, unknown]>): {
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
