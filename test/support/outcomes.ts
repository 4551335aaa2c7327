import { firstAttemptJob } from "../../src/delivery/job";
import type { DeliveryOutcome } from "../../src/domain/delivery";
import type { DeliveryId, EndpointId, EventId, OrganizationId } from "../../src/lib/ids";

/**
 * A first attempt that was delivered (a 200 answering `responseBody`), as the delivery run records it:
 * for tests that write delivery rows through the SQL of src/db/deliveries/ directly.
 */
export function deliveredOutcome(
  ids: { organizationId: string; deliveryId: string; endpointId: string; eventId: string },
  responseBody = "",
): DeliveryOutcome {
  const job = firstAttemptJob(
    {
      organizationId: ids.organizationId as OrganizationId,
      deliveryId: ids.deliveryId as DeliveryId,
      endpointId: ids.endpointId as EndpointId,
      eventId: ids.eventId as EventId,
    },
    "matter.created",
    null,
  );
  const attempt = {
    number: 1,
    trigger: "initial" as const,
    startedAt: new Date().toISOString(),
    durationMs: 3,
    statusCode: 200,
    error: null,
    responseBody,
  };
  return {
    job,
    attempts: [attempt],
    progress: {
      status: "delivered",
      attemptCount: 1,
      queueRetries: 0,
      nextAttemptAt: null,
      sweepAfter: null,
      lastStatusCode: 200,
      lastError: null,
      deliveredAt: new Date().toISOString(),
    },
  };
}
