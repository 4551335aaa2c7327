import { getConfig } from "../config";
import { BUCKET_MS, dropBucket, dropLegacy, liveBuckets, orEmpty } from "../db/buckets";
import { getCronCursor, setCronCursor } from "../db/cron-cursors";
import { deleteExpiredSecrets } from "../db/endpoint-secrets";
import { deleteBefore } from "../db/id-ranges";
import { organizationIdsAfter } from "../db/organizations";
import { dataOf, forgetLegacy, historyOf, type Shard, shards } from "../db/shards";
import { ID_PREFIX, idAt } from "../lib/ids";

/** Rows per DELETE, and DELETEs per cron run, in the legacy tables: bounded work, however much is due. */
const BATCH = 500;
const DELETES_PER_RUN = 200;
/** Organizations visited per run in the legacy tables; a run that ends early resumes with the next one. */
const ORGANIZATIONS_PER_RUN = 50;

export type RetentionReport = {
  /** Weeks whose tables were dropped, over every shard. */
  weeks: number;
  /** Rows deleted one by one from the legacy tables. */
  legacyEvents: number;
  legacyDeliveries: number;
  /** Rotated-out signing secrets past their grace window. */
  secrets: number;
};

/**
 * Removes history older than `RETENTION_DAYS`, a week at a time: on every shard, each week whose last
 * moment is older drops its two tables (db/buckets.ts), events and deliveries with their attempts
 * together, whatever they hold, without a DELETE per row. So a row is kept for RETENTION_DAYS at least
 * and seven days more at most. The legacy tables of a shard from before weeks are emptied as before, by
 * primary-key range per organization (ids are time-sortable; a delivery's id carries its event's
 * time), and dropped once their last row has expired.
 */
export async function applyRetention(env: Env, now: number): Promise<RetentionReport> {
  const cutoff = now - getConfig(env).retentionDays * 86_400_000;
  const report: RetentionReport = { weeks: 0, legacyEvents: 0, legacyDeliveries: 0, secrets: 0 };
  let legacyLeft = false;
  for (const shard of shards(env)) {
    try {
      const expired = await dropExpired(env, shard, cutoff);
      report.weeks += expired.weeks;
      legacyLeft ||= expired.legacyLeft;
    } catch (error) {
      legacyLeft = true; // not known: the walk looks
      console.error(
        JSON.stringify({ message: "retention failed", shard: shard.index, error: String(error) }),
      );
    }
  }
  // Once no shard has legacy tables left, there is nothing to walk the organizations for.
  if (legacyLeft) await deleteLegacyRows(env, cutoff, report);
  report.secrets = await deleteExpiredSecrets(env.DB, new Date(now).toISOString());
  console.log(JSON.stringify({ message: "retention applied", ...report }));
  return report;
}

/**
 * Drops the shard's weeks that ended before `cutoff`, and its legacy tables once all of them did;
 * says how many weeks went and whether legacy tables are left.
 */
async function dropExpired(
  env: Env,
  shard: Shard,
  cutoff: number,
): Promise<{ weeks: number; legacyLeft: boolean }> {
  const history = await historyOf(env, shard);
  let weeks = 0;
  let legacyLeft = false;
  for (const bucket of await liveBuckets(history)) {
    if (bucket === "legacy") {
      legacyLeft = history.legacyUntil > cutoff;
      if (!legacyLeft) {
        await dropLegacy(history);
        forgetLegacy(shard);
      }
    } else if ((bucket + 1) * BUCKET_MS <= cutoff) {
      await dropBucket(history, bucket);
      weeks++;
    }
  }
  return { weeks, legacyLeft };
}

/** The legacy tables' expired rows, organization by organization, from where the last run stopped. */
async function deleteLegacyRows(env: Env, cutoff: number, report: RetentionReport): Promise<void> {
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

  let cursor = await getCronCursor(env.DB, "retention");
  const organizations = await organizationIdsAfter(env.DB, cursor, ORGANIZATIONS_PER_RUN);
  for (const organizationId of organizations) {
    if (budget <= 0) break;
    const { db, legacyUntil } = await dataOf(env, organizationId);
    if (legacyUntil > 0) {
      // The tables may have been dropped by another run meanwhile: then nothing is left to delete.
      report.legacyDeliveries += await drain((limit) =>
        orEmpty(deleteBefore(db, "deliveries", organizationId, beforeDelivery, limit), 0),
      );
      report.legacyEvents += await drain((limit) =>
        orEmpty(deleteBefore(db, "events", organizationId, beforeEvent, limit), 0),
      );
    }
    if (budget > 0) cursor = organizationId; // finished with this one
  }
  // Past the last organization, the next run starts the walk over.
  await setCronCursor(
    env.DB,
    "retention",
    organizations.length < ORGANIZATIONS_PER_RUN && budget > 0 ? "" : cursor,
  );
}
