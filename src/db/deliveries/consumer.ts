import type {
  Attempt,
  DeliveryJob,
  DeliveryOutcome,
  DeliveryProgress,
  DeliveryStatus,
} from "../../domain/delivery";
import type { DeliveryId, OrganizationId } from "../../lib/ids";
import { ensureBuckets, groupByBucket, type History, orEmpty, tableOf, tableOfId } from "../buckets";
import { IN_ID_LIST, idList } from "../page";
import { loadPayloads } from "../payloads";
import { encodeAttempts } from "./attempts";
import { type JobRow, toJob } from "./rows";

/**
 * What the delivery run writes and reads of deliveries: leases, and each run's outcomes. Statements
 * are returned, not run, where the run writes them in one D1 batch with others.
 */

const OUTCOME_COLUMNS = [
  "organization_id",
  "id",
  "event_id",
  "endpoint_id",
  "event_type",
  "created_at",
  "status",
  "attempt_count",
  "queue_retries",
  "next_attempt_at",
  "sweep_after",
  "last_status_code",
  "last_error",
  "delivered_at",
  "attempts",
] as const;

/** A delivery's progress columns, `status` to `attempts`, in the order updateDeliveryProgress sets them. */
const progressValues = (p: DeliveryProgress, attempts: readonly Attempt[]) => [
  p.status,
  p.attemptCount,
  p.queueRetries,
  p.nextAttemptAt,
  p.sweepAfter,
  p.lastStatusCode,
  p.lastError,
  p.deliveredAt,
  encodeAttempts(attempts),
];

/** The values of OUTCOME_COLUMNS, in their order. */
const outcomeValues = ({ job, progress, attempts }: DeliveryOutcome) => [
  job.organizationId,
  job.id,
  job.eventId,
  job.endpointId,
  job.eventType,
  job.createdAt,
  ...progressValues(progress, attempts),
];

/** 1.5 MB of UTF-8 at most: within D1's 2 MB limit on a value. */
const MAX_OUTCOME_JSON_UNITS = 500_000;

/**
 * The rows of deliveries written once their first attempts are over, a row that exists already (two
 * runs raced) left alone. They go as one JSON array per statement, not one statement per row: a run
 * records up to a thousand, and each statement costs D1 a round of its own work. A statement's JSON
 * stays under D1's 2 MB limit on a value (UTF-8 takes at most three bytes per UTF-16 unit). One
 * statement per week at least; the weeks' tables must exist (ensureBuckets).
 */
export function insertDeliveryOutcomes(
  h: History,
  outcomes: readonly DeliveryOutcome[],
): D1PreparedStatement[] {
  return [...Map.groupBy(outcomes, ({ job }) => tableOfId(h, "deliveries", job.id))].flatMap(
    ([table, inTable]) => {
      const slices: string[][] = [];
      let units = 0;
      for (const outcome of inTable) {
        const row = JSON.stringify(outcomeValues(outcome));
        const last = slices.at(-1);
        if (last && units + row.length <= MAX_OUTCOME_JSON_UNITS) {
          last.push(row);
          units += row.length + 1;
        } else {
          slices.push([row]);
          units = row.length + 1;
        }
      }
      return slices.map((rows) =>
        h.db
          .prepare(
            `INSERT INTO ${table} (${OUTCOME_COLUMNS.join(", ")})
           SELECT ${OUTCOME_COLUMNS.map((_, i) => `value ->> ${i}`).join(", ")} FROM json_each(?) WHERE true
           ON CONFLICT DO NOTHING`,
          )
          .bind(`[${rows.join(",")}]`),
      );
    },
  );
}

/**
 * Leases an organization's pending deliveries to this consumer run until `leaseUntil`, and reads
 * them with their events' content, in one D1 batch. `leased` holds the ids this run got: one another
 * run holds, or that is no longer pending, is left out, so no delivery is attempted twice at once.
 * `rows` has every requested delivery that exists; `content` is null once retention removed the event.
 */
export async function leaseDeliveries(
  h: History,
  organizationId: OrganizationId,
  ids: readonly DeliveryId[],
  now: string,
  leaseUntil: string,
): Promise<{ leased: Set<string>; rows: Map<string, DeliveryJob & { status: DeliveryStatus }> }> {
  const leased = new Set<string>();
  const rows = new Map<string, DeliveryJob & { status: DeliveryStatus }>();
  // A delivery and its event are in the same week (its id names the event's time). A week retention
  // dropped meanwhile holds none of them any more.
  const weeks = [...groupByBucket(h, ids)];
  const results = await Promise.all(
    weeks.map(([bucket, inBucket]) =>
      orEmpty(
        h.db.batch<{ id: string } | JobRow>([
          h.db
            .prepare(
              `UPDATE ${tableOf("deliveries", bucket)} SET lease_until = ?, sweep_after = NULL
               WHERE organization_id = ? AND id ${IN_ID_LIST} AND status = 'pending'
                 AND (lease_until IS NULL OR lease_until <= ?)
               RETURNING id`,
            )
            .bind(leaseUntil, organizationId, idList(inBucket), now),
          h.db
            .prepare(
              `SELECT d.*, COALESCE(d.payload_override, e.data) AS event_data,
                 ${bucket === "legacy" ? "NULL" : "CASE WHEN d.payload_override IS NULL THEN e.data_key END"} AS event_data_key,
                 d.payload_override IS NOT NULL AS payload_overridden, e.resources AS event_resources,
                 e.occurred_at AS event_occurred_at
               FROM ${tableOf("deliveries", bucket)} d LEFT JOIN ${tableOf("events", bucket)} e
                 ON e.organization_id = d.organization_id AND e.id = d.event_id
               WHERE d.organization_id = ? AND d.id ${IN_ID_LIST}`,
            )
            .bind(organizationId, idList(inBucket)),
        ]),
        [],
      ),
    ),
  );
  for (const [leasedRows] of results) for (const row of leasedRows?.results ?? []) leased.add(row.id);
  // The events' data kept in R2 (db/payloads.ts) is read for the jobs that send it.
  const jobRows = results.flatMap(([, read]) => (read?.results ?? []) as JobRow[]);
  const texts = await loadPayloads(
    h.payloads,
    jobRows.flatMap((row) => (row.event_data_key ? [row.event_data_key] : [])),
  );
  for (const row of jobRows) {
    const data = row.event_data_key ? texts.get(row.event_data_key) : row.event_data;
    // Data lost from R2 ends that delivery as its event's expiry would; the others go on.
    const job = data === undefined ? { ...row, event_resources: null } : { ...row, event_data: data };
    rows.set(row.id, { ...toJob(job), status: row.status });
  }
  return { leased, rows };
}

/** Gives a lease back early (the run could not finish), so the next message for it can proceed. */
export function releaseDelivery(
  h: History,
  job: Pick<DeliveryJob, "organizationId" | "id">,
): D1PreparedStatement {
  return h.db
    .prepare(
      `UPDATE ${tableOfId(h, "deliveries", job.id)} SET lease_until = NULL
       WHERE organization_id = ? AND id = ? AND status = 'pending'`,
    )
    .bind(job.organizationId, job.id);
}

/** Records a consumer run's outcome; only a still-pending delivery moves, so a late duplicate cannot undo it. */
export function updateDeliveryProgress(
  h: History,
  job: DeliveryJob,
  p: DeliveryProgress,
  attempts: readonly Attempt[],
): D1PreparedStatement {
  return h.db
    .prepare(
      `UPDATE ${tableOfId(h, "deliveries", job.id)} SET status = ?, attempt_count = ?, queue_retries = ?, next_attempt_at = ?, sweep_after = ?,
         last_status_code = ?, last_error = ?, delivered_at = ?, attempts = ?, lease_until = NULL
       WHERE organization_id = ? AND id = ? AND status = 'pending'`,
    )
    .bind(...progressValues(p, attempts), job.organizationId, job.id);
}

/**
 * Ends a delivery without (another) attempt: endpoint gone or disabled, event expired, dead-lettered.
 * A stored delivery is closed if still pending; a first attempt is given its row, failed (and a row
 * an earlier run did write is closed the same way).
 */
export async function failDelivery(
  h: History,
  job: DeliveryJob,
  reason: string,
): Promise<D1PreparedStatement[]> {
  const close = h.db
    .prepare(
      `UPDATE ${tableOfId(h, "deliveries", job.id)} SET status = 'failed', next_attempt_at = NULL, sweep_after = NULL, lease_until = NULL,
         last_error = ?
       WHERE organization_id = ? AND id = ? AND status = 'pending'`,
    )
    .bind(reason, job.organizationId, job.id);
  if (job.stored) return [close];
  const failed: DeliveryProgress = {
    status: "failed",
    attemptCount: 0,
    queueRetries: 0,
    nextAttemptAt: null,
    lastStatusCode: null,
    lastError: reason,
    deliveredAt: null,
    sweepAfter: null,
  };
  await ensureBuckets(h, [job.id]);
  return [...insertDeliveryOutcomes(h, [{ job, progress: failed, attempts: [] }]), close];
}
