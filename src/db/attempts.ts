import type { DeliveryId } from "../lib/ids";

/** What started an attempt: the first try, an inline retry inside the consumer, or a queue retry. */
export type AttemptTrigger = "initial" | "inline_retry" | "queue_retry";

export type Attempt = {
  deliveryId: DeliveryId;
  number: number;
  trigger: AttemptTrigger;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
};

type AttemptRow = {
  delivery_id: string;
  number: number;
  trigger: AttemptTrigger;
  started_at: string;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_body: string | null;
};

const toAttempt = (row: AttemptRow): Attempt => ({
  deliveryId: row.delivery_id as DeliveryId,
  number: row.number,
  trigger: row.trigger,
  startedAt: row.started_at,
  durationMs: row.duration_ms,
  statusCode: row.status_code,
  error: row.error,
  responseBody: row.response_body,
});

/** Keyed by (delivery, number): a consumer run redelivered after a crash rewrites, never doubles, a record. */
export function insertAttempt(db: D1Database, a: Attempt): D1PreparedStatement {
  return db
    .prepare(
      `INSERT OR REPLACE INTO attempts (delivery_id, number, trigger, started_at, duration_ms, status_code, error,
         response_body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      a.deliveryId,
      a.number,
      a.trigger,
      a.startedAt,
      a.durationMs,
      a.statusCode,
      a.error,
      a.responseBody,
    );
}

export async function listAttempts(db: D1Database, deliveryId: string): Promise<Attempt[]> {
  const { results } = await db
    .prepare("SELECT * FROM attempts WHERE delivery_id = ? ORDER BY number")
    .bind(deliveryId)
    .all<AttemptRow>();
  return results.map(toAttempt);
}

/** Retention: up to `limit` attempts of deliveries made before `beforeDeliveryId`; returns how many went. */
export async function deleteAttemptsBefore(
  db: D1Database,
  beforeDeliveryId: string,
  limit: number,
): Promise<number> {
  const { meta } = await db
    .prepare(
      `DELETE FROM attempts WHERE (delivery_id, number) IN
         (SELECT delivery_id, number FROM attempts WHERE delivery_id < ? LIMIT ?)`,
    )
    .bind(beforeDeliveryId, limit)
    .run();
  return meta.changes;
}
