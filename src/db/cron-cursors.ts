/** Where a cron task's walk stopped ("" before it ever ran, and after a walk is complete). */
export async function getCronCursor(db: D1Database, task: string): Promise<string> {
  return (
    (await db.prepare("SELECT cursor FROM cron_cursors WHERE task = ?").bind(task).first<string>("cursor")) ??
    ""
  );
}

export async function setCronCursor(db: D1Database, task: string, cursor: string): Promise<void> {
  await db
    .prepare(
      "INSERT INTO cron_cursors (task, cursor) VALUES (?, ?) ON CONFLICT (task) DO UPDATE SET cursor = excluded.cursor",
    )
    .bind(task, cursor)
    .run();
}
