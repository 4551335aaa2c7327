/** Cursor pagination shared by every list: newest first by id, `nextCursor` is the last id returned. */
export type PageQuery = { limit: number; cursor?: string };
export type Page<T> = { data: T[]; nextCursor: string | null };

/** Lists fetch `limit + 1` rows; the extra row only tells whether another page exists. */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const data = rows.slice(0, limit);
  const last = data.at(-1);
  return { data, nextCursor: rows.length > limit && last ? last.id : null };
}

/** The `id < cursor` condition, or one that is always true when there is no cursor. */
export function cursorCondition(cursor: string | undefined): { sql: string; params: string[] } {
  return cursor ? { sql: "id < ?", params: [cursor] } : { sql: "1 = 1", params: [] };
}
