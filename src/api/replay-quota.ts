import { getConfig } from "../config";
import type { ReplayPermits } from "../delivery/replay";
import { endpointHealth } from "../health/endpoint-health";
import { ServiceError } from "../lib/errors";
import type { EndpointId } from "../lib/ids";

/**
 * Takes up to `requested` permits of the endpoint's replay quota: REPLAYS_PER_ENDPOINT_PER_HOUR
 * deliveries replayed, by replay and recover together, kept by the endpoint's EndpointHealth object
 * (a bucket of an hour's permits, refilled evenly). With none left it throws a 429 whose Retry-After
 * says when one frees up, so a caller that goes on has at least one permit.
 */
export async function takeReplayPermits(
  env: Env,
  endpointId: EndpointId,
  requested: number,
): Promise<ReplayPermits> {
  const perHour = getConfig(env).replaysPerEndpointPerHour;
  const { granted, nextPermitInMs } = await endpointHealth(env, endpointId).acquireReplays(
    requested,
    perHour,
  );
  const retryAfterSeconds = Math.max(1, Math.ceil(nextPermitInMs / 1000));
  if (granted === 0) {
    throw new ServiceError(
      "throttled",
      `The endpoint's replay quota is spent: ${perHour} deliveries replayed per hour, by replay and recover together (REPLAYS_PER_ENDPOINT_PER_HOUR)`,
      undefined,
      retryAfterSeconds,
    );
  }
  return { granted, retryAfterSeconds };
}
