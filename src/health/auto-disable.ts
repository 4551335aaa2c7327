import { getEndpointById } from "../db/endpoints/reads";
import { autoDisableEndpoint } from "../db/endpoints/writes";
import type { DisabledReason } from "../domain/endpoint";
import { notifyOperator } from "../events/operator";
import { publishEvent } from "../events/publish";
import type { EndpointId } from "../lib/ids";
import type { FailingWarning } from "./policy";

/**
 * Carries out the health object's decision (a failure streak too long, or a 410 Gone: health/policy.ts):
 * the endpoint becomes `auto_disabled` with its reason, one
 * log line says so, and the organization is told through a `webhook.endpoint.disabled` event (which
 * reaches its other endpoints that subscribe to it), the operator through `operator.endpoint.disabled`. Does nothing if the endpoint is no longer active.
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
  const data = {
    endpointId,
    url: endpoint.url,
    disabledAt: reason.at,
    failures: reason.failures,
    lastError: reason.lastError,
    cause: reason.cause,
  };
  await publishEvent(env, {
    organizationId: endpoint.organizationId,
    type: "webhook.endpoint.disabled",
    data,
  });
  await notifyOperator(env, {
    type: "operator.endpoint.disabled",
    data: { organizationId: endpoint.organizationId, ...data },
  });
}

/**
 * Carries out the health object's warning (health/policy.ts): a streak halfway to auto-disable is told
 * to the organization, once, through a `webhook.endpoint.failing` event, while there is time to mend
 * the receiver. Nothing is told of an endpoint no longer active.
 */
export async function warnFailing(env: Env, endpointId: EndpointId, warning: FailingWarning): Promise<void> {
  const endpoint = await getEndpointById(env.DB, endpointId);
  if (endpoint?.status !== "active") return;
  console.log(
    JSON.stringify({
      message: "endpoint failing",
      endpointId,
      organizationId: endpoint.organizationId,
      ...warning,
    }),
  );
  const data = { endpointId, url: endpoint.url, ...warning };
  await publishEvent(env, {
    organizationId: endpoint.organizationId,
    type: "webhook.endpoint.failing",
    data,
  });
  await notifyOperator(env, {
    type: "operator.endpoint.failing",
    data: { organizationId: endpoint.organizationId, ...data },
  });
}
