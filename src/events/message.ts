import type { EventRecord, IdempotencyRecord } from "../domain/event";
import { type EventId, ID_PREFIX, type OrganizationId } from "../lib/ids";
import { isIdOf, isRecord } from "../lib/queue";

/**
 * The `webhook-events` message, one per published event. It carries the event itself when that fits
 * in a message, so fan-out reads nothing and the event is safe from the moment the send returns
 * (fan-out stores it if the publish request could not). A larger event is stored first and read by
 * fan-out; the sweeper's re-sends carry ids only.
 */
export type EventMessage = {
  organizationId: OrganizationId;
  eventId: EventId;
  /** The event's trace, also when the event itself does not ride along. */
  traceId?: string;
  event?: EventRecord & { idempotency?: IdempotencyRecord };
};

export function isEventMessage(value: unknown): value is EventMessage {
  return (
    isRecord(value) &&
    isIdOf(value.organizationId, ID_PREFIX.organization) &&
    isIdOf(value.eventId, ID_PREFIX.event) &&
    (value.event === undefined || (isRecord(value.event) && value.event.id === value.eventId))
  );
}
