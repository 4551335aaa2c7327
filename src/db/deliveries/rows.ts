import type { Delivery, DeliveryBase, DeliveryJob, DeliveryStatus } from "../../domain/delivery";
import type { DeliveryId, EndpointId, EventId, OrganizationId } from "../../lib/ids";
import { decodeAttempts } from "./attempts";

/** The deliveries table's rows, and their one mapping each to the domain's shapes (domain/delivery.ts). */
export type DeliveryRow = {
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

// Lists leave out the attempts (response bodies of up to 1 KiB) and a replay's data.
export const LIST_COLUMNS = `organization_id, id, event_id, endpoint_id, event_type, status, attempt_count,
  next_attempt_at, last_status_code, last_error, replay_of, created_at, delivered_at`;

const toBase = (row: Omit<DeliveryRow, "attempts">): DeliveryBase => ({
  id: row.id as DeliveryId,
  organizationId: row.organization_id as OrganizationId,
  eventId: row.event_id as EventId,
  endpointId: row.endpoint_id as EndpointId,
  eventType: row.event_type,
  attemptCount: row.attempt_count,
  replayOf: row.replay_of as DeliveryId | null,
  createdAt: row.created_at,
});

export const toDelivery = (row: Omit<DeliveryRow, "attempts">): Delivery => ({
  ...toBase(row),
  status: row.status,
  nextAttemptAt: row.next_attempt_at,
  lastStatusCode: row.last_status_code,
  lastError: row.last_error,
  deliveredAt: row.delivered_at,
});

/** A delivery's row joined with what it sends: its event's content, or a replay's own data. */
export type JobRow = DeliveryRow & {
  queue_retries: number;
  payload_overridden: 0 | 1;
  event_data: string;
  /** Where the event's data is when it is in R2 (db/payloads.ts), and no replay data replaces it. */
  event_data_key: string | null;
  event_resources: string | null;
  event_occurred_at: string | null;
};

export const toJob = (row: JobRow): DeliveryJob => ({
  ...toBase(row),
  content:
    row.event_resources === null || row.event_occurred_at === null
      ? null
      : {
          data: JSON.parse(row.event_data),
          resources: JSON.parse(row.event_resources),
          occurredAt: row.event_occurred_at,
        },
  queueRetries: row.queue_retries,
  payloadOverridden: row.payload_overridden === 1,
  stored: true,
  attempts: decodeAttempts(row.attempts),
});
