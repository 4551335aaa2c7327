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
