import { getEndpointById } from "../db/endpoints/reads";
import { autoDisableEndpoint } from "../db/endpoints/writes";
import type { DisabledReason } from "../domain/endpoint";
import { publishEvent } from "../events/publish";
import type { EndpointId } from "../lib/ids";

/**
 * Carries out the health object's decision (a failure streak too long, or a 410 Gone: health/policy.ts):
 * the endpoint becomes `auto_disabled` with its reason, one
 * log line says so, and the organization is told through a `webhook.endpoint.disabled` event (which
 * reaches its other endpoints that subscribe to it). Does nothing if the endpoint is no longer active.
 */
export async function applyAutoDisable(
  env: Env,
  endpointId: EndpointId,
  reason: DisabledReason,
): Promise<void> {
  if (!(await autoDisableEndpoint(env.DB, endpointId, reason))) return;
  const endpoint = await getEndpointById(env.DB, endpointId);
  if (!endpoint) return;
  console.log(
    JSON.stringify({
      message: "endpoint auto-disabled",
      endpointId,
      organizationId: endpoint.organizationId,
      ...reason,
    }),
  );
  await publishEvent(env, {
    organizationId: endpoint.organizationId,
    type: "webhook.endpoint.disabled",
    data: {
      endpointId,
      url: endpoint.url,
      disabledAt: reason.at,
      failures: reason.failures,
      lastError: reason.lastError,
      cause: reason.cause,
    },
  });
}
