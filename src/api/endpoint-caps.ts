import { getConfig } from "../config";
import { countLiveEndpoints, getEndpoint } from "../db/endpoints/reads";
import type { EndpointCaps } from "../db/endpoints/writes";
import type { Endpoint } from "../domain/endpoint";
import { notFound, ServiceError } from "../lib/errors";
import type { OrganizationId } from "../lib/ids";

/**
 * The caps on live endpoints (MAX_ENDPOINTS_PER_ORGANIZATION, MAX_ENDPOINTS_PER_URL): one publish
 * makes a request to every matching endpoint, so endpoints without bound would let one event make
 * requests without bound, and to one URL. The writes enforce them (db/endpoints.ts); this names the
 * cap a refused write met.
 */
export function endpointCaps(env: Env): EndpointCaps {
  const config = getConfig(env);
  return { perOrganization: config.maxEndpointsPerOrganization, perUrl: config.maxEndpointsPerUrl };
}

/** The 409 for a create or URL change that a cap refused, naming the cap and the var that sets it. */
export async function capReached(
  env: Env,
  organizationId: OrganizationId,
  url: string,
): Promise<ServiceError> {
  const caps = endpointCaps(env);
  const counts = await countLiveEndpoints(env.DB, organizationId, url);
  if (counts.withUrl >= caps.perUrl) {
    return new ServiceError(
      "conflict",
      `An organization may have at most ${caps.perUrl} live endpoints with one URL (MAX_ENDPOINTS_PER_URL): delete one first`,
      [{ path: "url", message: `has ${counts.withUrl} live endpoints already` }],
    );
  }
  return new ServiceError(
    "conflict",
    `An organization may have at most ${caps.perOrganization} live endpoints (MAX_ENDPOINTS_PER_ORGANIZATION): delete one first`,
  );
}

/** Why an update of `current` to `next` wrote nothing: the endpoint is gone (404), or its new URL is at its cap. */
export async function updateRefused(env: Env, current: Endpoint, next: Endpoint): Promise<ServiceError> {
  const gone = next.url === current.url || !(await getEndpoint(env.DB, current.organizationId, current.id));
  return gone ? notFound("Endpoint") : capReached(env, current.organizationId, next.url);
}
