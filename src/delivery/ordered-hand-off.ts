import type { Config } from "../config";
import { ensureBuckets, type History } from "../db/buckets";
import { insertDeliveryOutcomes } from "../db/deliveries/consumer";
import type { DeliveryProgress } from "../domain/delivery";
import type { DeliveryEndpoint } from "../domain/endpoint";
import type { EventOrder, EventRecord } from "../domain/event";
import { endpointHealth } from "../health/endpoint-health";
import type { DeliveryId } from "../lib/ids";
import { laneKeyOf } from "../ordering/lane-key";
import { firstAttemptJob } from "./job";
import type { Settled, UnsettledEvents } from "./outcome";
import { recordStatements } from "./record";
import { leaseSeconds } from "./run";

/** An (event, endpoint) pair fan-out found, its delivery to be. */
export type Pair = { event: EventRecord; endpoint: DeliveryEndpoint; id: DeliveryId };

/**
 * A delivery an ordered lane takes: fan-out's pair of an ordered endpoint and a numbered event, or a
 * replay, numbered anew (replay.ts).
 */
export type OrderedPair = {
  /** What of its event a lane needs: who, its type, and what decides its lane and place. */
  event: Pick<EventRecord, "id" | "organizationId" | "type" | "resources"> & { order: EventOrder };
  endpoint: Pick<DeliveryEndpoint, "id" | "organizationId" | "ordering">;
  id: DeliveryId;
};

/**
 * An event accepted before its organization had an ordered endpoint (or before the change reached
 * the publishing isolate: ordering/organizations.ts) has no number and is delivered unordered.
 */
export const isOrderedPair = (pair: Pair): pair is Pair & OrderedPair =>
  pair.endpoint.ordering !== "none" && pair.event.order !== undefined;

/**
 * Fan-out's deliveries to ordered endpoints go to the endpoints' lanes (src/ordering/), one object call
 * per endpoint, instead of being attempted here: each lane sends them one at a time, in the events'
 * order. Each is first written pending, with nothing for the sweeper, so the delivery log shows what
 * waits (and where, GET /deliveries/{id}) before its first attempt. A delivery a full lane refuses is
 * failed where its owner sees it (and can recover it later); a write or an object that fails leaves the
 * events unsettled, to go round again (a lane takes a delivery it holds only once, and fan-out hands an
 * ordered delivery on even when its row exists: plan in fan-out.ts).
 */
export async function handToLanes(
  env: Env,
  config: Config,
  history: History,
  pairs: readonly OrderedPair[],
  unsettled: UnsettledEvents,
): Promise<void> {
  try {
    await ensureBuckets(
      history,
      pairs.map((p) => p.id),
    );
    await history.db.batch(
      insertDeliveryOutcomes(
        history,
        pairs.map((pair) => ({ job: jobOf(pair), progress: WAITING, attempts: [] })),
      ),
    );
  } catch (error) {
    for (const { event } of pairs)
      unsettled.set(event.id, `ordered deliveries not written: ${String(error)}`);
    return;
  }
  const refused: Settled[] = [];
  await Promise.all(
    [...Map.groupBy(pairs, (p) => p.endpoint.id)].map(async ([endpointId, inEndpoint]) => {
      const endpoint = (inEndpoint[0] as OrderedPair).endpoint;
      const ordering = endpoint.ordering;
      if (ordering === "none") return;
      try {
        const results = await endpointHealth(env, endpointId).enqueueOrdered(
          { organizationId: endpoint.organizationId, endpointId, leaseMs: 2 * leaseSeconds(config) * 1000 },
          inEndpoint.map(({ event, id }) => ({
            lane: laneKeyOf(ordering, event),
            deliveryId: id,
            sequence: event.order.sequence,
            event: { id: event.id, type: event.type },
          })),
        );
        results.forEach((result, i) => {
          const pair = inEndpoint[i] as OrderedPair;
          if (result.kind !== "refused") return;
          const reason = `ordered_lane_full: its lane holds ${result.maxLength} deliveries`;
          refused.push({ source: "fan-out", job: jobOf(pair), kind: "ended", reason });
        });
      } catch (error) {
        for (const { event } of inEndpoint)
          unsettled.set(event.id, `ordered lane unreachable: ${String(error)}`);
      }
    }),
  );
  if (refused.length === 0) return;
  try {
    await history.db.batch(await recordStatements(history, refused));
  } catch (error) {
    for (const { job } of refused)
      unsettled.set(job.eventId, `refused delivery not recorded: ${String(error)}`);
  }
}

/** A delivery waiting in its lane: pending, nothing attempted, no time for the sweeper. */
const WAITING: DeliveryProgress = {
  status: "pending",
  attemptCount: 0,
  queueRetries: 0,
  nextAttemptAt: null,
  lastStatusCode: null,
  lastError: null,
  deliveredAt: null,
  sweepAfter: null,
};

/** The delivery of a pair, as the record and the consumer's statements take it. */
export const jobOf = ({ event, endpoint, id }: OrderedPair) =>
  firstAttemptJob(
    { organizationId: event.organizationId, deliveryId: id, endpointId: endpoint.id, eventId: event.id },
    event.type,
    null,
  );
