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

/** D1 binds at most 100 parameters per statement; `IN (…)` lists are cut to leave room for the others. */
export const MAX_IN_LIST = 90;

/** `items` in slices of at most `size`, for one statement each (run together with `db.batch`). */
export function chunked<T>(items: readonly T[], size = MAX_IN_LIST): T[][] {
  const slices: T[][] = [];
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size));
  return slices;
}

export const placeholders = (items: readonly unknown[]) => items.map(() => "?").join(", ");

/** Every row of `statementFor(slice)` over `ids` cut into slices, run as one D1 batch. */
export async function rowsForIds<T>(
  db: D1Database,
  ids: readonly string[],
  statementFor: (slice: string[]) => D1PreparedStatement,
): Promise<T[]> {
  if (ids.length === 0) return [];
  const pages = await db.batch<T>(chunked(ids).map(statementFor));
  return pages.flatMap((page) => page.results);
}
