import { hasActiveEndpoint } from "../db/endpoints/reads";
import type { OrganizationId } from "../lib/ids";
import { publishEvent } from "./publish";

/**
 * The platform operator's own organization (migrations/control/0010): its endpoints are the
 * operational endpoints (api/operational-endpoints.ts), delivered, signed and retried like any other.
 */
export const OPERATOR_ORGANIZATION_ID = "org_00000000000000000000000000" as OrganizationId;

/** What happened to an organization's endpoint, told to the operator (catalog/operational.ts). */
export type OperatorNotice = {
  type:
    | "operator.endpoint.created"
    | "operator.endpoint.deleted"
    | "operator.endpoint.failing"
    | "operator.endpoint.disabled"
    | "operator.endpoint.enabled";
  data: { organizationId: OrganizationId; endpointId: string; url: string } & Record<string, unknown>;
};

/**
 * Publishes a notice to the operator's organization, when it has an active endpoint to receive it
 * (so a service without operational endpoints writes nothing for them), and never about its own
 * endpoints. A notice that cannot be published is logged, not thrown: the change it tells of happened.
 */
export async function notifyOperator(env: Env, notice: OperatorNotice): Promise<void> {
  if (notice.data.organizationId === OPERATOR_ORGANIZATION_ID) return;
  try {
    if (!(await hasActiveEndpoint(env.DB, OPERATOR_ORGANIZATION_ID))) return;
    await publishEvent(env, {
      organizationId: OPERATOR_ORGANIZATION_ID,
      type: notice.type,
      data: notice.data,
    });
  } catch (error) {
    console.error(
      JSON.stringify({ message: "operator notice not published", type: notice.type, error: String(error) }),
    );
  }
}
