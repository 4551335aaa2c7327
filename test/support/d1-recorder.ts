/**
 * A D1 database that remembers the statements run through it (SQL, bound values and result meta), so
 * a test can ask SQLite for their query plans and check the rows they read. Test-only: src/ carries no
 * instrumentation of its own.
 */
export type RecordedStatement = { sql: string; params: unknown[]; meta?: D1Meta; rows?: number };

export function recordingDatabase(db: D1Database): { db: D1Database; statements: RecordedStatement[] } {
  const statements: RecordedStatement[] = [];
  const originals = new WeakMap<
    D1PreparedStatement,
    { statement: D1PreparedStatement; sql: string; params: unknown[] }
  >();
  const wrap = (sql: string, statement: D1PreparedStatement, params: unknown[]): D1PreparedStatement => {
    const record = async <R extends { meta: D1Meta; results?: unknown[] }>(
      result: Promise<R>,
    ): Promise<R> => {
      const settled = await result;
      statements.push({ sql, params, meta: settled.meta, rows: settled.results?.length });
      return settled;
    };
    const wrapped = {
      bind: (...values: unknown[]) => wrap(sql, statement.bind(...values), values),
      run: () => record(statement.run()),
      all: () => record(statement.all()),
      async first(column?: string) {
        const result = await record(statement.all<Record<string, unknown>>());
        const row = result.results[0] ?? null;
        return column === undefined || row === null ? row : (row[column] ?? null);
      },
      raw: statement.raw.bind(statement),
    } as unknown as D1PreparedStatement;
    originals.set(wrapped, { statement, sql, params });
    return wrapped;
  };
  const recorded: D1Database = {
    prepare: (sql: string) => wrap(sql, db.prepare(sql), []),
    async batch(batch: D1PreparedStatement[]) {
      const known = batch.map((s) => originals.get(s));
      const results = await db.batch(batch.map((s, i) => known[i]?.statement ?? s));
      results.forEach((result, i) => {
        const { sql = "?", params = [] } = known[i] ?? {};
        statements.push({ sql, params, meta: result.meta, rows: result.results?.length });
      });
      return results;
    },
    exec: db.exec.bind(db),
    withSession: db.withSession.bind(db),
    dump: db.dump.bind(db),
  } as D1Database;
  return { db: recorded, statements };
}
