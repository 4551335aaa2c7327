import type { DeliveryId, EndpointId, EventId, OrganizationId } from "../lib/ids";
import type { EventContent } from "./event";

/**
 * What a delivery is, for every stage that handles one (fan-out, the delivery run, its record, the
 * API, storage). Types only: the modules that act on deliveries import this, and it imports none of
 * them, so the stages of the delivery engine share their shapes without importing each other.
 */

export const DELIVERY_STATUSES = ["pending", "delivered", "failed"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** What started an attempt: the first try, an inline retry inside the consumer, or a queue retry. */
export const ATTEMPT_TRIGGERS = ["initial", "inline_retry", "queue_retry"] as const;
export type AttemptTrigger = (typeof ATTEMPT_TRIGGERS)[number];

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
  /** W3C trace context sent with it (`traceparent`): the delivery's trace, the attempt's own span. */
  traceId?: string;
  spanId?: string;
};

/** Who and what a delivery is, whatever stage it is in. */
export type DeliveryBase = {
  id: DeliveryId;
  organizationId: OrganizationId;
  eventId: EventId;
  endpointId: EndpointId;
  eventType: string;
  attemptCount: number;
  /** The delivery this one replays (always an original, never a replay). */
  replayOf: DeliveryId | null;
  createdAt: string;
};

/** A delivery as its history shows it. */
export type Delivery = DeliveryBase & {
  status: DeliveryStatus;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
};

/**
 * What the delivery run needs to send one delivery: who and what, its event's content (or a
 * replay's own data; null once retention removed the event), and how much of the retry schedule it
 * has spent (kept on the row, not in the queue message, so a rate-limit deferral or a sweeper re-send
 * does not restart the schedule). `stored` is false for a first attempt: its row is written once the
 * attempt is over.
 */
export type DeliveryJob = DeliveryBase & {
  content: EventContent | null;
  queueRetries: number;
  /** A replay sent with the caller's data instead of the event's (`payload_override`). */
  payloadOverridden: boolean;
  stored: boolean;
  /** Those made by earlier runs. */
  attempts: Attempt[];
  /** Set for a delivery of an ordered lane: its run reports the outcome to the lane, not to the queue. */
  ordered?: LaneTurn;
};

/**
 * One per delivery sent through the deliveries queue. A retry or a replay has a row, which the
 * consumer leases and reads. A first attempt that fan-out handed on (`first`) has no row yet; it
 * carries its event when that fits in a message.
 */
export type DeliveryMessage = {
  organizationId: OrganizationId;
  deliveryId: DeliveryId;
  endpointId: EndpointId;
  eventId: EventId;
  first?: { eventType: string; traceId?: string; event?: EventContent };
  /** A delivery of an ordered lane, sent by the lane when its turn came (src/ordering/). */
  ordered?: LaneTurn;
};

/**
 * A delivery's turn in its ordered lane: the lane (an ordering key, or "" for the endpoint's one
 * lane) and the token the lane gave this attempt, which its report must carry.
 */
export type LaneTurn = { lane: string; token: number };

/** Where a run left a delivery, written back in one statement. */
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

/** A delivery's row as a run's attempts (or its failure without one) leave it. */
export type DeliveryOutcome = { job: DeliveryJob; progress: DeliveryProgress; attempts: readonly Attempt[] };
