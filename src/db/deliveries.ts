import {
  DELIVERY_RANGE_PREFIX_LENGTH,
  type DeliveryId,
  deliveryIdRange,
  type EndpointId,
  type EventId,
  ID_PREFIX,
  idAt,
  type OrganizationId,
  RANGE_END,
} from "../lib/ids";
import type { EventResources } from "./events";
import { IN_ID_LIST, idList, type Page, type PageQuery, scanPage } from "./page";

export type DeliveryStatus = "pending" | "delivered" | "failed";

/** What started an attempt: the first try, an inline retry inside the consumer, or a queue retry. */
export type AttemptTrigger = "initial" | "inline_retry" | "queue_retry";

/**
 * One HTTP attempt. A delivery keeps its attempts in its own row (a JSON array, in attempt order),
 * so recording an attempt writes no row of its own: a delivered first attempt is one row written.
 */
export type Attempt = {
  number: number;
  trigger: AttemptTrigger;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
};

export type Delivery = {
  id: DeliveryId;
  organizationId: OrganizationId;
  eventId: EventId;
  endpointId: EndpointId;
  eventType: string;
  status: DeliveryStatus;
  attemptCount: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  replayOf: DeliveryId | null;
  createdAt: string;
  deliveredAt: string | null;
};

/**
 * What the delivery consumer needs to send one delivery: who and what, its event's content (or a
 * replay's own data), and how much of the retry schedule it has spent (kept on the row, not in the
 * queue message, so a rate-limit deferral or a sweeper re-send does not restart the schedule).
 * `stored` is false for a first attempt: its row is written once the attempt is over.
 */
export type DeliveryJob = {
  id: DeliveryId;
  organizationId: OrganizationId;
  eventId: EventId;
  endpointId: EndpointId;
  eventType: string;
  content: { data: unknown; resources: EventResources; occurredAt: string } | null;
  attemptCount: number;
  queueRetries: number;
  replayOf: DeliveryId | null;
  /** A replay sent with the caller's data instead of the event's (`payload_override`). */
  payloadOverridden: boolean;
  createdAt: string;
  stored: boolean;
  /** Those made by earlier runs. */
  attempts: Attempt[];
};

/** Where a consumer run left a delivery, written back in one statement. */
export type DeliveryProgress = {
  status: DeliveryStatus;
  attemptCount: number;
  queueRetries: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  /** Pending: when the sweeper should re-send it if no message has picked it up by then. */
  sweepAfter: string | null;
};

export type DeliveryFilters = {
  endpointId?: string;
  eventId?: string;
  eventType?: string;
  status?: DeliveryStatus;
  since?: string;
  until?: string;
  /** Only deliveries of these event types (those an API key's scopes cover); all when undefined. */
  types?: readonly string[];
};

type DeliveryRow = {
  attempts: string;
  id: string;
  organization_id: string;
  event_id: string;
  endpoint_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  replay_of: string | null;
  created_at: string;
  delivered_at: string | null;
};

const toDelivery = (row: DeliveryRow): Delivery => ({
  id: row.id as DeliveryId,
  organizationId: row.organization_id as OrganizationId,
  eventId: row.event_id as EventId,
  endpointId: row.endpoint_id as EndpointId,
  eventType: row.event_type,
  status: row.status,
  attemptCount: row.attempt_count,
  nextAttemptAt: row.next_attempt_at,
  lastStatusCode: row.last_status_code,
  lastError: row.last_error,
  replayOf: row.replay_of as DeliveryId | null,
  createdAt: row.created_at,
  deliveredAt: row.delivered_at,
});

/** A delivery that has no row yet, as its first attempts (or its failure without one) left it. */
export type DeliveryOutcome = { job: DeliveryJob; progress: DeliveryProgress; attempts: readonly Attempt[] };

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
  JSON.stringify(attempts),
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
 * stays under D1's 2 MB limit on a value (UTF-8 takes at most three bytes per UTF-16 unit).
 */
export function insertDeliveryOutcomes(
  db: D1Database,
  outcomes: readonly DeliveryOutcome[],
): D1PreparedStatement[] {
  const slices: string[][] = [];
  let units = 0;
  for (const outcome of outcomes) {
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
    db
      .prepare(
        `INSERT INTO deliveries (${OUTCOME_COLUMNS.join(", ")})
         SELECT ${OUTCOME_COLUMNS.map((_, i) => `value ->> ${i}`).join(", ")} FROM json_each(?) WHERE true
         ON CONFLICT DO NOTHING`,
      )
      .bind(`[${rows.join(",")}]`),
  );
}

/** A replay: a pending row, which the sweeper re-sends if its queue message never comes. */
export function insertReplay(
  db: D1Database,
  d: Delivery,
  options: { payloadOverride?: unknown; sweepAfter: string },
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO deliveries (organization_id, id, event_id, endpoint_id, event_type, status, next_attempt_at,
         sweep_after, replay_of, payload_override, created_at)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)`,
    )
    .bind(
      d.organizationId,
      d.id,
      d.eventId,
      d.endpointId,
      d.eventType,
      d.nextAttemptAt,
      options.sweepAfter,
      d.replayOf,
      options.payloadOverride === undefined ? null : JSON.stringify(options.payloadOverride),
      d.createdAt,
    );
}

export async function getDelivery(
  db: D1Database,
  organizationId: string,
  id: string,
): Promise<(Delivery & { attempts: Attempt[] }) | null> {
  const row = await db
    .prepare("SELECT * FROM deliveries WHERE organization_id = ? AND id = ?")
    .bind(organizationId, id)
    .first<DeliveryRow>();
  return row ? { ...toDelivery(row), attempts: JSON.parse(row.attempts) } : null;
}

// Lists leave out the attempts (up to 4 KiB of response body each) and a replay's data.
const LIST_COLUMNS = `organization_id, id, event_id, endpoint_id, event_type, status, attempt_count,
  next_attempt_at, last_status_code, last_error, replay_of, created_at, delivered_at`;

/**
 * A page of the organization's deliveries, newest event first. The event filter and `until` narrow
 * the primary-key range (a delivery's id carries its event's time, never after its own created_at);
 * the other filters are read from at most MAX_SCANNED_ROWS rows a page (page.ts: scanPage).
 */
export async function listDeliveries(
  db: D1Database,
  organizationId: string,
  query: PageQuery & DeliveryFilters,
): Promise<Page<Delivery>> {
  // An event's deliveries share an id range (lib/ids.ts): the filter becomes a primary-key range.
  const event = query.eventId?.startsWith("evt_") ? deliveryIdRange(query.eventId as EventId) : undefined;
  const page = await scanPage<DeliveryRow>(db, {
    table: "deliveries",
    columns: LIST_COLUMNS,
    range: [
      ["organization_id = ?", organizationId],
      ["id < ?", query.cursor],
      ["id >= ?", event?.from],
      ["id < ?", event?.to],
      ["id < ?", query.until && idAt(ID_PREFIX.delivery, Date.parse(query.until))],
    ],
    filters: [
      ["endpoint_id = ?", query.endpointId],
      ["event_id = ?", query.eventId],
      ["event_type = ?", query.eventType],
      [`event_type ${IN_ID_LIST}`, query.types && idList(query.types)],
      ["status = ?", query.status],
      ["created_at >= ?", query.since],
      ["created_at < ?", query.until],
    ],
    limit: query.limit,
  });
  return { data: page.data.map(toDelivery), nextCursor: page.nextCursor };
}

/** Which of an organization's delivery `ids` have a row. */
export async function storedDeliveryIds(
  db: D1Database,
  organizationId: string,
  ids: readonly string[],
): Promise<Set<string>> {
  const slices = Array.from({ length: Math.ceil(ids.length / IDS_PER_LOOKUP) }, (_, i) =>
    ids.slice(i * IDS_PER_LOOKUP, (i + 1) * IDS_PER_LOOKUP),
  );
  const found = await Promise.all(
    slices.map((slice) =>
      db
        .prepare(`SELECT id FROM deliveries WHERE organization_id = ? AND id ${IN_ID_LIST}`)
        .bind(organizationId, idList(slice))
        .all<{ id: string }>(),
    ),
  );
  return new Set(found.flatMap(({ results }) => results.map((r) => r.id)));
}

/**
 * Ids per look-up: fan-out asks about every (event, endpoint) pair of a batch, up to 100 events times
 * an organization's endpoints. 20,000 delivery ids are about 660 KB of JSON, within D1's 2 MB a value.
 */
const IDS_PER_LOOKUP = 20_000;

type JobRow = DeliveryRow & {
  queue_retries: number;
  payload_overridden: 0 | 1;
  event_data: string;
  event_resources: string | null;
  event_occurred_at: string | null;
};

/**
 * Leases an organization's pending deliveries to this consumer run until `leaseUntil`, and reads
 * them with their events' content, in one D1 batch. `leased` holds the ids this run got: one another
 * run holds, or that is no longer pending, is left out, so no delivery is attempted twice at once.
 * `rows` has every requested delivery that exists; `content` is null once retention removed the event.
 */
export async function leaseDeliveries(
  db: D1Database,
  organizationId: string,
  ids: readonly string[],
  now: string,
  leaseUntil: string,
): Promise<{ leased: Set<string>; rows: Map<string, DeliveryJob & { status: DeliveryStatus }> }> {
  if (ids.length === 0) return { leased: new Set(), rows: new Map() };
  const [leasedRows, jobRows] = await db.batch<{ id: string } | JobRow>([
    db
      .prepare(
        `UPDATE deliveries SET lease_until = ?, sweep_after = NULL
         WHERE organization_id = ? AND id ${IN_ID_LIST} AND status = 'pending'
           AND (lease_until IS NULL OR lease_until <= ?)
         RETURNING id`,
      )
      .bind(leaseUntil, organizationId, idList(ids), now),
    db
      .prepare(
        `SELECT d.*, COALESCE(d.payload_override, e.data) AS event_data,
           d.payload_override IS NOT NULL AS payload_overridden, e.resources AS event_resources,
           e.occurred_at AS event_occurred_at
         FROM deliveries d LEFT JOIN events e ON e.organization_id = d.organization_id AND e.id = d.event_id
         WHERE d.organization_id = ? AND d.id ${IN_ID_LIST}`,
      )
      .bind(organizationId, idList(ids)),
  ]);
  const leased = new Set((leasedRows?.results ?? []).map((row) => row.id));
  const rows = ((jobRows?.results ?? []) as JobRow[]).map(
    (row) => [row.id, { ...toJob(row), status: row.status }] as const,
  );
  return { leased, rows: new Map(rows) };
}

const toJob = (row: JobRow): DeliveryJob => ({
  id: row.id as DeliveryId,
  organizationId: row.organization_id as OrganizationId,
  eventId: row.event_id as EventId,
  endpointId: row.endpoint_id as EndpointId,
  eventType: row.event_type,
  content:
    row.event_resources === null || row.event_occurred_at === null
      ? null
      : {
          data: JSON.parse(row.event_data),
          resources: JSON.parse(row.event_resources),
          occurredAt: row.event_occurred_at,
        },
  attemptCount: row.attempt_count,
  queueRetries: row.queue_retries,
  replayOf: row.replay_of as DeliveryId | null,
  payloadOverridden: row.payload_overridden === 1,
  createdAt: row.created_at,
  stored: true,
  attempts: JSON.parse(row.attempts),
});

/** Gives a lease back early (the run could not finish), so the next message for it can proceed. */
export function releaseDelivery(db: D1Database, organizationId: string, id: string): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE deliveries SET lease_until = NULL WHERE organization_id = ? AND id = ? AND status = 'pending'",
    )
    .bind(organizationId, id);
}

export type DeliveryToSweep = {
  organizationId: OrganizationId;
  id: DeliveryId;
  endpointId: EndpointId;
  eventId: EventId;
};

/** Pending deliveries whose `sweep_after` has passed: no queue message picked them up in time. */
export async function listDeliveriesToSweep(
  db: D1Database,
  now: string,
  limit: number,
): Promise<DeliveryToSweep[]> {
  const { results } = await db
    .prepare(
      `SELECT organization_id, id, endpoint_id, event_id FROM deliveries
       WHERE sweep_after IS NOT NULL AND sweep_after <= ? ORDER BY sweep_after LIMIT ?`,
    )
    .bind(now, limit)
    .all<{ organization_id: string; id: string; endpoint_id: string; event_id: string }>();
  return results.map((r) => ({
    organizationId: r.organization_id as OrganizationId,
    id: r.id as DeliveryId,
    endpointId: r.endpoint_id as EndpointId,
    eventId: r.event_id as EventId,
  }));
}

/** The sweeper re-sent it: look again only if this message is lost too. */
export function postponeDeliverySweep(
  db: D1Database,
  d: DeliveryToSweep,
  sweepAfter: string,
): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE deliveries SET sweep_after = ? WHERE organization_id = ? AND id = ? AND status = 'pending'",
    )
    .bind(sweepAfter, d.organizationId, d.id);
}

/** A failed original delivery that recover scanned: `recoverable` when no replay of it is pending or delivered. */
export type ScannedFailure = Delivery & { recoverable: boolean };

/**
 * Recover's scan: up to `limit` of the endpoint's failed original deliveries (never a replay) created
 * in [since, until), oldest first, after the delivery `after` when given, each marked recoverable unless
 * a replay of it is pending or delivered. The partial index deliveries_failed_originals holds just
 * these rows (migrations/0003_list_indexes.sql); a replay is looked for in its original's id range
 * (deliveryIdRange, lib/ids.ts: a replay's id starts with its event's time too), with no index of its own.
 */
export async function listRecoverableDeliveries(
  db: D1Database,
  organizationId: string,
  endpointId: string,
  window: { since: string; until: string; after?: string; limit: number },
): Promise<ScannedFailure[]> {
  const { results } = await db
    .prepare(
      `SELECT ${LIST_COLUMNS}, NOT EXISTS (
           SELECT 1 FROM deliveries r
           WHERE r.organization_id = d.organization_id
             AND r.id >= substr(d.id, 1, ?7) AND r.id < substr(d.id, 1, ?7) || '${RANGE_END}'
             AND r.replay_of = d.id AND r.status IN ('pending', 'delivered')
         ) AS recoverable
       FROM deliveries d
       WHERE d.organization_id = ?1 AND d.endpoint_id = ?2 AND d.status = 'failed' AND d.replay_of IS NULL
         AND d.created_at >= ?3 AND d.created_at < ?4
         AND (d.created_at, d.id) > (
           COALESCE((SELECT created_at FROM deliveries WHERE organization_id = ?1 AND id = ?5), ''), ?5)
       ORDER BY d.created_at, d.id LIMIT ?6`,
    )
    .bind(
      organizationId,
      endpointId,
      window.since,
      window.until,
      window.after ?? "",
      window.limit,
      DELIVERY_RANGE_PREFIX_LENGTH,
    )
    .all<DeliveryRow & { recoverable: number }>();
  return results.map((row) => ({ ...toDelivery(row), recoverable: row.recoverable === 1 }));
}

/** Records a consumer run's outcome; only a still-pending delivery moves, so a late duplicate cannot undo it. */
export function updateDeliveryProgress(
  db: D1Database,
  job: DeliveryJob,
  p: DeliveryProgress,
  attempts: readonly Attempt[],
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE deliveries SET status = ?, attempt_count = ?, queue_retries = ?, next_attempt_at = ?, sweep_after = ?,
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
export function failDelivery(db: D1Database, job: DeliveryJob, reason: string): D1PreparedStatement[] {
  const close = db
    .prepare(
      `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, sweep_after = NULL, lease_until = NULL,
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
  return [...insertDeliveryOutcomes(db, [{ job, progress: failed, attempts: [] }]), close];
}

/** Retention: up to `limit` of an organization's deliveries made before `beforeId`; returns how many went. */
export async function deleteDeliveriesBefore(
  db: D1Database,
  organizationId: string,
  beforeId: string,
  limit: number,
): Promise<number> {
  const { meta } = await db
    .prepare(
      `DELETE FROM deliveries WHERE organization_id = ?1 AND id IN
         (SELECT id FROM deliveries WHERE organization_id = ?1 AND id < ?2 LIMIT ?3)`,
    )
    .bind(organizationId, beforeId, limit)
    .run();
  return meta.changes;
}
