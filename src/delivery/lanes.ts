import type { Config } from "../config";
import type { Attempt } from "../domain/delivery";
import type { DeliveryEndpoint } from "../domain/endpoint";

/**
 * Two lanes for deliveries (docs/architecture.md#lanes). An endpoint whose receiver answers slowly, or
 * not at all, holds connections for seconds where others hold them for milliseconds; in the main lane
 * (fan-out and the `webhook-deliveries` consumer) that would make every run it shares, and every
 * delivery queued behind those runs, wait for it. So once a run measures it slow, the endpoint goes to
 * the slow lane for SLOW_LANE_MS: its deliveries are handed to `webhook-deliveries-slow`, whose
 * consumers run apart, and no main-lane run attempts them. A slow-lane run that finds it fast again
 * brings it back. Nothing else changes: the same attempts, retry schedule, rate limit and health.
 */
export type Lane = "main" | "slow";

/** How long an endpoint measured slow stays in the slow lane, unless it is found fast there first. */
export const SLOW_LANE_MS = 10 * 60_000;

export const inSlowLane = (endpoint: Pick<DeliveryEndpoint, "slowUntil">, now: number) =>
  endpoint.slowUntil !== null && Date.parse(endpoint.slowUntil) > now;

/** Whether attempts show a slow receiver: one ran into its timeout, or took SLOW_ATTEMPT_MS or more. */
export const slowAttempts = (
  attempts: readonly (Pick<Attempt, "durationMs"> & { error?: string | null })[],
  config: Pick<Config, "slowAttemptMs">,
) => attempts.some((a) => a.error === "timeout" || a.durationMs >= config.slowAttemptMs);

/**
 * What a run of `lane` changes in the endpoint's lane after its attempts: into the slow lane when the
 * main lane measured it slow, back when the slow lane measured it fast; undefined: no change.
 */
export function laneAfter(
  lane: Lane,
  endpoint: Pick<DeliveryEndpoint, "slowUntil">,
  attempts: readonly Attempt[],
  config: Pick<Config, "slowAttemptMs">,
  now: number,
): { slowUntil: string | null } | undefined {
  if (attempts.length === 0) return undefined;
  const slow = slowAttempts(attempts, config);
  if (lane === "main" && slow) return { slowUntil: new Date(now + SLOW_LANE_MS).toISOString() };
  if (lane === "slow" && !slow && inSlowLane(endpoint, now)) return { slowUntil: null };
  return undefined;
}
