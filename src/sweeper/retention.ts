import { getConfig } from "../config";
import { deleteAttemptsBefore } from "../db/attempts";
import { deleteDeliveriesBefore } from "../db/deliveries";
import { deleteExpiredSecrets } from "../db/endpoint-secrets";
import { deleteEventsBefore } from "../db/events";
import { ID_PREFIX, idAt } from "../lib/ids";

/** Rows per DELETE, and DELETEs per table per cron run: bounded work, however much is due. */
const BATCH = 500;
const MAX_BATCHES = 20;

export type RetentionReport = { attempts: number; deliveries: number; events: number; secrets: number };

/**
 * Removes history older than `RETENTION_DAYS`. Ids are time-sortable, so "older than" is a primary-key
 * range and needs no extra index. Attempts go before their deliveries, deliveries before events;
 * a delivery made recently (a replay) of an expired event is kept and closed by the consumer.
 */
export async function applyRetention(env: Env, now: number): Promise<RetentionReport> {
  const cutoff = now - getConfig(env).retentionDays * 86_400_000;
  const drain = async (remove: (limit: number) => Promise<number>) => {
    let total = 0;
    for (let i = 0; i < MAX_BATCHES; i++) {
      const removed = await remove(BATCH);
      total += removed;
      if (removed < BATCH) break;
    }
    return total;
  };
  const beforeDelivery = idAt(ID_PREFIX.delivery, cutoff);
  const report = {
    attempts: await drain((limit) => deleteAttemptsBefore(env.DB, beforeDelivery, limit)),
    deliveries: await drain((limit) => deleteDeliveriesBefore(env.DB, beforeDelivery, limit)),
    events: await drain((limit) => deleteEventsBefore(env.DB, idAt(ID_PREFIX.event, cutoff), limit)),
    secrets: await deleteExpiredSecrets(env.DB, new Date(now).toISOString()),
  };
  console.log(JSON.stringify({ message: "retention applied", ...report }));
  return report;
}
