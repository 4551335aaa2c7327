import { getConfig } from "../config";
import { getCronCursor, setCronCursor } from "../db/cron-cursors";
import { deleteExpiredSecrets } from "../db/endpoint-secrets";
import { deleteBefore } from "../db/id-ranges";
import { organizationIdsAfter } from "../db/organizations";
import { dataOf } from "../db/shards";
import { ID_PREFIX, idAt } from "../lib/ids";

/** Rows per DELETE, and DELETEs per cron run: bounded work, however much is due. */
const BATCH = 500;
const DELETES_PER_RUN = 200;
/** Organizations visited per run; a run that ends early resumes with the next one. */
const ORGANIZATIONS_PER_RUN = 50;

export type RetentionReport = { deliveries: number; events: number; secrets: number };

/**
 * Removes history older than `RETENTION_DAYS`. Ids are time-sortable, so "older than" is a
 * primary-key range within each organization (events and deliveries are keyed by organization
 * first); organizations are walked a few per run from where the last run stopped. A delivery's id
 * carries its event's time, so an event and its deliveries (with their attempts) expire together.
 */
export async function applyRetention(env: Env, now: number): Promise<RetentionReport> {
  const cutoff = now - getConfig(env).retentionDays * 86_400_000;
  const beforeDelivery = idAt(ID_PREFIX.delivery, cutoff);
  const beforeEvent = idAt(ID_PREFIX.event, cutoff);
  let budget = DELETES_PER_RUN;
  const drain = async (remove: (limit: number) => Promise<number>) => {
    let total = 0;
    while (budget > 0) {
      budget--;
      const removed = await remove(BATCH);
      total += removed;
      if (removed < BATCH) break;
    }
    return total;
  };

  const report = { deliveries: 0, events: 0, secrets: 0 };
  let cursor = await getCronCursor(env.DB, "retention");
  const organizations = await organizationIdsAfter(env.DB, cursor, ORGANIZATIONS_PER_RUN);
  for (const organizationId of organizations) {
    if (budget <= 0) break;
    const data = await dataOf(env, organizationId);
    report.deliveries += await drain((limit) =>
      deleteBefore(data, "deliveries", organizationId, beforeDelivery, limit),
    );
    report.events += await drain((limit) => deleteBefore(data, "events", organizationId, beforeEvent, limit));
    if (budget > 0) cursor = organizationId; // finished with this one
  }
  // Past the last organization, the next run starts the walk over.
  await setCronCursor(
    env.DB,
    "retention",
    organizations.length < ORGANIZATIONS_PER_RUN && budget > 0 ? "" : cursor,
  );
  report.secrets = await deleteExpiredSecrets(env.DB, new Date(now).toISOString());
  console.log(JSON.stringify({ message: "retention applied", ...report }));
  return report;
}
