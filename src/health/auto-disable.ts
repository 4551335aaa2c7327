import { getEndpointById } from "../db/endpoints/reads";
import { autoDisableEndpoint } from "../db/endpoints/writes";
import type { DisabledReason } from "../domain/endpoint";
import { notifyOperator } from "../events/operator";
import { publishEvent } from "../events/publish";
import type { EndpointId, OrganizationId } from "../lib/ids";
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
  await tellOrganizationAndOperator(env, endpoint.organizationId, "disabled", {
    endpointId,
    url: endpoint.url,
    disabledAt: reason.at,
    failures: reason.failures,
    lastError: reason.lastError,
    cause: reason.cause,
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
  await tellOrganizationAndOperator(env, endpoint.organizationId, "failing", {
    endpointId,
    url: endpoint.url,
    ...warning,
  });
}

/**
 * The organization hears of its endpoint through `webhook.endpoint.<change>` (which reaches its other
 * endpoints that subscribe to it), the operator through `operator.endpoint.<change>`, with the same data.
 */
async function tellOrganizationAndOperator(
  env: Env,
  organizationId: OrganizationId,
  change: "disabled" | "failing",
  data: { endpointId: EndpointId; url: string } & Record<string, unknown>,
): Promise<void> {
  await publishEvent(env, { organizationId, type: `webhook.endpoint.${change}`, data });
  await notifyOperator(env, { type: `operator.endpoint.${change}`, data: { organizationId, ...data } });
}
