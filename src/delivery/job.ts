import type { DeliveryJob, DeliveryMessage } from "../domain/delivery";
import type { EventContent } from "../domain/event";
import { ID_PREFIX } from "../lib/ids";
import { isIdOf, isRecord, withIfFits } from "../lib/queue";

/**
 * A delivery to attempt now, and the one place its queue message is built. A job knows where it came
 * from, which decides how it is answered for: a message of its own on the deliveries queue, or
 * fan-out, whose event message answers for it.
 */
export type Job = { job: DeliveryJob } & ({ source: "queue"; message: Message } | { source: "fan-out" });

export function isDeliveryMessage(value: unknown): value is DeliveryMessage {
  return (
    isRecord(value) &&
    isIdOf(value.organizationId, ID_PREFIX.organization) &&
    isIdOf(value.deliveryId, ID_PREFIX.delivery) &&
    isIdOf(value.endpointId, ID_PREFIX.endpoint) &&
    isIdOf(value.eventId, ID_PREFIX.event) &&
    (value.first === undefined || (isRecord(value.first) && typeof value.first.eventType === "string")) &&
    (value.ordered === undefined ||
      (isRecord(value.ordered) &&
        typeof value.ordered.lane === "string" &&
        Number.isInteger(value.ordered.token)))
  );
}

/** A first attempt: no row yet, nothing of the retry schedule spent. */
export function firstAttemptJob(
  ids: Pick<DeliveryMessage, "organizationId" | "deliveryId" | "endpointId" | "eventId">,
  eventType: string,
  content: EventContent | null,
): DeliveryJob {
  return {
    id: ids.deliveryId,
    organizationId: ids.organizationId,
    eventId: ids.eventId,
    endpointId: ids.endpointId,
    eventType,
    content,
    attemptCount: 0,
    queueRetries: 0,
    replayOf: null,
    payloadOverridden: false,
    createdAt: new Date().toISOString(),
    stored: false,
    attempts: [],
  };
}

/** What a delivery's body is built from, taken from its event (and nothing else of it). */
export const contentOf = ({ data, resources, occurredAt, traceId }: EventContent): EventContent => ({
  data,
  resources,
  occurredAt,
  traceId,
});

/** The message of a delivery that has a row (a retry, a replay, a swept one): its ids, nothing else. */
export const storedDeliveryMessage = (
  d: Pick<DeliveryJob, "organizationId" | "id" | "endpointId" | "eventId">,
): DeliveryMessage => ({
  organizationId: d.organizationId,
  deliveryId: d.id,
  endpointId: d.endpointId,
  eventId: d.eventId,
});

/** The message that carries `job` on: a retry of a stored delivery, or a first attempt handed on or put off. */
export function messageFor(job: DeliveryJob): DeliveryMessage {
  const body = { ...storedDeliveryMessage(job), ...(job.ordered && { ordered: job.ordered }) };
  if (job.stored) return body;
  return withIfFits<DeliveryMessage>(
    { ...body, first: { eventType: job.eventType, traceId: job.content?.traceId } },
    { first: { eventType: job.eventType, traceId: job.content?.traceId, event: job.content ?? undefined } },
  );
}
