import { getConfig } from "../config";
import { ensureBuckets, type History } from "../db/buckets";
import { failDelivery } from "../db/deliveries/consumer";
import { insertReplay, listRecoverableDeliveries } from "../db/deliveries/maintenance";
import { getEvent, takeSequences } from "../db/events";
import { dataOf } from "../db/shards";
import type { Delivery } from "../domain/delivery";
import type { Endpoint } from "../domain/endpoint";
import { replayDeliveryId } from "../lib/ids";
import { sendAll, sweepAfter } from "../lib/queue";
import { storedDeliveryMessage } from "./job";
import { handToLanes, jobOf, type OrderedPair } from "./ordered-hand-off";
import type { UnsettledEvents } from "./outcome";

/**
 * Replays: each original gets a new pending delivery of the same event (same id, type and
 * occurred_at), signed with the endpoint's secrets of the moment and marked with `replayOf`, which
 * names the original even when a replay is replayed, so recover can tell what is still failed. A
 * `payloadOverride` replaces the event's data in the replay only. The rows are written before their
 * messages are sent, marked for the sweeper, so a failed send only delays them. The originals are
 * one organization's (one delivery, or one endpoint's).
 */
export async function replayDeliveries(
  env: Env,
  endpoint: Pick<Endpoint, "id" | "organizationId" | "ordering">,
  originals: readonly Delivery[],
  payloadOverride?: unknown,
): Promise<Delivery[]> {
  const [first] = originals;
  if (!first) return [];
  const now = new Date();
  const replays = originals.map(
    (original): Delivery => ({
      id: replayDeliveryId(original.eventId),
      organizationId: original.organizationId,
      eventId: original.eventId,
      endpointId: original.endpointId,
      eventType: original.eventType,
      status: "pending",
      attemptCount: 0,
      nextAttemptAt: now.toISOString(),
      lastStatusCode: null,
      lastError: null,
      replayOf: original.replayOf ?? original.id,
      createdAt: now.toISOString(),
      deliveredAt: null,
    }),
  );
  const ordered = endpoint.ordering !== "none";
  const sweep = ordered ? null : sweepAfter(now.getTime());
  const history = await dataOf(env, first.organizationId);
  await ensureBuckets(
    history,
    replays.map((replay) => replay.id),
  );
  const written = await history.db.batch<{ last: number }>([
    ...replays.map((replay) => insertReplay(history, replay, { payloadOverride, sweepAfter: sweep })),
    ...(ordered ? [takeSequences(history, first.organizationId, replays.length)] : []),
  ]);
  if (ordered) {
    const last = written.at(-1)?.results[0]?.last ?? 0;
    return toLanesTail(env, history, endpoint, replays, last - replays.length + 1);
  }
  try {
    await sendAll(
      env.DELIVERIES_QUEUE,
      replays.map((replay) => ({ body: storedDeliveryMessage(replay) })),
    );
  } catch (error) {
    console.error(
      JSON.stringify({ message: "replay enqueue failed; the sweeper will retry", error: String(error) }),
    );
  }
  return replays;
}

/**
 * Replays to an ordered endpoint go to their lanes' tails, numbered after every event accepted so far
 * (`firstSequence` on), each in its event's lane. A replay no lane took is failed at once, where its
 * owner sees it, rather than left pending with nothing to send it.
 */
async function toLanesTail(
  env: Env,
  history: History,
  endpoint: Pick<Endpoint, "id" | "organizationId" | "ordering">,
  replays: Delivery[],
  firstSequence: number,
): Promise<Delivery[]> {
  const eventIds = [...new Set(replays.map((r) => r.eventId))];
  const read = await Promise.all(eventIds.map((id) => getEvent(history, endpoint.organizationId, id)));
  const events = new Map(eventIds.map((id, i) => [id, read[i] ?? null]));
  const pairs = replays.map((replay, i): OrderedPair => {
    // An event retention removed has no key: its replay takes the endpoint's lane, and fails there.
    const event = events.get(replay.eventId);
    return {
      event: {
        id: replay.eventId,
        organizationId: replay.organizationId,
        type: replay.eventType,
        resources: event?.resources ?? {},
        order: { sequence: firstSequence + i, key: event?.order?.key ?? null },
      },
      endpoint,
      id: replay.id,
    };
  });
  const unsettled: UnsettledEvents = new Map();
  await handToLanes(env, getConfig(env), history, pairs, unsettled);
  if (unsettled.size === 0) return replays;
  const failures = pairs.flatMap((pair) => {
    const reason = unsettled.get(pair.event.id);
    return reason === undefined ? [] : [failDelivery(history, { ...jobOf(pair), stored: true }, reason)];
  });
  await history.db.batch((await Promise.all(failures)).flat());
  return replays.map((r) =>
    unsettled.has(r.eventId) ? { ...r, status: "failed", lastError: unsettled.get(r.eventId) ?? null } : r,
  );
}

/** A recover call scans at most this many failed deliveries, so it replays at most as many. */
export const MAX_RECOVER = 1_000;

/** Recover's window, created_at in [since, until), and where an earlier call stopped in it. */
export type RecoverWindow = { since: string; until: string; cursor?: string };

/**
 * What a recover call did. A call that stopped before the end of its window says where to go on
 * (`nextCursor`, for the same window) and why: it scanned MAX_RECOVER failed deliveries (`call`), or
 * the endpoint's replay quota had fewer permits than there were deliveries to replay (`quota`; the
 * oldest were replayed, and a permit frees up in `retryAfterSeconds`).
 */
export type Recovered = {
  replayed: number;
  nextCursor: string | null;
  limitedBy: "call" | "quota" | null;
  retryAfterSeconds?: number;
};

/** Permits of an endpoint's replay quota: at least one (the taker refuses the call otherwise). */
export type ReplayPermits = { granted: number; retryAfterSeconds: number };

/**
 * Bulk recovery of an endpoint: replays each of its failed original deliveries in the window once,
 * oldest first, unless a replay of it is pending or delivered already. So calling again replays
 * only what is still failed (its replay failed too), never a replay of a replay, and repeated calls
 * add one replay per failed (event, endpoint) each, not twice as many as the call before. Each
 * replay takes a permit of the endpoint's quota (`takePermits`); asking for none when nothing is due.
 */
export async function recoverDeliveries(
  env: Env,
  endpoint: Pick<Endpoint, "organizationId" | "id" | "ordering">,
  window: RecoverWindow,
  takePermits: (requested: number) => Promise<ReplayPermits>,
): Promise<Recovered> {
  const history = await dataOf(env, endpoint.organizationId);
  const scanned = await listRecoverableDeliveries(history, endpoint.organizationId, endpoint.id, {
    since: window.since,
    until: window.until,
    after: window.cursor,
    limit: MAX_RECOVER,
  });
  const due = scanned.filter((failure) => failure.recoverable);
  const permits = due.length > 0 ? await takePermits(due.length) : { granted: 0, retryAfterSeconds: 0 };
  const replays = await replayDeliveries(env, endpoint, due.slice(0, permits.granted));
  if (replays.length < due.length) {
    return {
      replayed: replays.length,
      nextCursor: due[replays.length - 1]?.id ?? null,
      limitedBy: "quota",
      retryAfterSeconds: permits.retryAfterSeconds,
    };
  }
  const full = scanned.length === MAX_RECOVER;
  return {
    replayed: replays.length,
    nextCursor: full ? (scanned.at(-1)?.id ?? null) : null,
    limitedBy: full ? "call" : null,
  };
}
