import type { DeliveryId, EventId } from "../lib/ids";

/**
 * One ordered lane (docs/architecture.md#ordered-lanes), kept pure so it is model-tested without a
 * Durable Object, as health/policy.ts is: an endpoint with `ordering: "endpoint"`, or one ordering key
 * of an endpoint with `ordering: "key"`. Its owner (ordered-lanes.ts) stores the state (plain JSON),
 * sends the deliveries, sets alarms from `wakeAt`, and passes the time in (epoch milliseconds). The
 * contract:
 *
 * - Order. Deliveries are sent in `sequence` order (the acceptance order the caller fixed, unique in
 *   the lane), whatever order they are enqueued in, one at a time: the next is not handed out until
 *   the head is delivered or has finally failed.
 * - Late arrivals. A delivery whose sequence is lower than one already handed out can no longer go
 *   before it: what was sent cannot be unsent, and the head, once handed out, keeps its place until it
 *   settles (the receiver may have it already, and only one delivery is out at a time). It goes next
 *   instead, in sequence order among those not yet handed out, and `enqueue` says it was `late`.
 * - A failed delivery leaves the lane, so the next proceeds; replay and recover make a new delivery
 *   (delivery/replay.ts) that is enqueued at the tail with a new sequence.
 * - Crash between an attempt and its report. `next` leases the head for `leaseMs`; once the lease has
 *   passed, the same head is handed out again with a new token (a redelivery, which at least once
 *   allows), never a later delivery (a reordering, which it does not). A report carrying any token but
 *   the current one changes nothing and says `stale`.
 * - At least once. Enqueueing a delivery the lane holds, or settled among the last `rememberSettled`,
 *   is a no-op (`duplicate`): queue messages can come twice.
 * - Bound. A lane holds at most `maxLength` deliveries; beyond, `enqueue` answers `refused`, for the
 *   caller to fail that delivery where it can be seen rather than drop it.
 * - Hold. A disabled endpoint holds its lanes: nothing is handed out, deliveries keep their order, an
 *   attempt already made still reports; released, the lane resumes where it was.
 */
export type LaneLimits = { maxLength: number; rememberSettled: number };

export const LANE_LIMITS: LaneLimits = { maxLength: 10_000, rememberSettled: 1_000 };

/**
 * What the caller enqueues: `sequence` is the acceptance order, unique in the lane; `event` is what the
 * owner needs to send the delivery's message when its turn comes.
 */
export type LaneItem = { deliveryId: DeliveryId; sequence: number; event: { id: EventId; type: string } };

export type Queued = LaneItem & { enqueuedAt: number };

/** The head, once handed out: being attempted under a lease, or waiting for its retry time. */
export type HeadPhase = { kind: "in_flight"; token: number; until: number } | { kind: "due_at"; at: number };

export type Head = Queued & { attempts: number; phase: HeadPhase };

export type LaneState = {
  /** The delivery handed out and not yet settled; it keeps its place until it settles. */
  head: Head | null;
  /** Never handed out yet, in sequence order. */
  queued: Queued[];
  held: boolean;
  /** The last attempt token given; the next is one more, so tokens never repeat in a lane. */
  lastToken: number;
  /** The highest sequence ever handed out, to tell a late arrival; null before the first. */
  highestHandedOut: number | null;
  /** The latest settled delivery ids, oldest first, at most `rememberSettled`: late duplicates. */
  recentlySettled: DeliveryId[];
};

export type Enqueued =
  | { kind: "accepted"; position: number; late: boolean }
  | { kind: "duplicate" }
  | { kind: "refused"; reason: "lane_full"; maxLength: number };

/** `attempt` counts from 1; `redelivery`: the last attempt's lease passed without a report. */
export type Handout = LaneItem & { token: number; attempt: number; redelivery: boolean };

export type LaneStep =
  | ({ kind: "attempt" } & Handout)
  /** The head is being attempted; look again when its lease ends, in case its report never comes. */
  | { kind: "in_flight"; until: number }
  /** The head waits for its retry time. */
  | { kind: "wait"; until: number }
  | { kind: "held" }
  | { kind: "idle" };

export type Outcome = { kind: "delivered" } | { kind: "retry"; at: number } | { kind: "failed" };

export type Reported =
  | { kind: "stale" }
  | { kind: "retry"; at: number }
  | ({ kind: "settled"; outcome: "delivered" | "failed"; attempts: number } & LaneItem);

export type LaneEntry = { position: number; sequence: number; deliveryId: DeliveryId } & (
  | { state: "in_flight"; until: number }
  | { state: "due_at"; at: number }
  | { state: "waiting" }
);

/**
 * An empty lane. A lane deleted once empty and made again must start its tokens above the old ones
 * (`lastToken`, e.g. the current time), or a report of the old lane could pass for a current one.
 */
export function newLane(lastToken = 0): LaneState {
  return { head: null, queued: [], held: false, lastToken, highestHandedOut: null, recentlySettled: [] };
}

export function enqueue(
  lane: LaneState,
  item: LaneItem,
  now: number,
  limits: LaneLimits = LANE_LIMITS,
): { lane: LaneState; result: Enqueued } {
  if (positionOf(lane, item.deliveryId) !== null || lane.recentlySettled.includes(item.deliveryId)) {
    return { lane, result: { kind: "duplicate" } };
  }
  if (lengthOf(lane) >= limits.maxLength) {
    return { lane, result: { kind: "refused", reason: "lane_full", maxLength: limits.maxLength } };
  }
  const at = insertionIndex(lane.queued, item.sequence);
  const entry: Queued = { ...item, enqueuedAt: now };
  const queued = [...lane.queued.slice(0, at), entry, ...lane.queued.slice(at)];
  const late = lane.highestHandedOut !== null && item.sequence < lane.highestHandedOut;
  return {
    lane: { ...lane, queued },
    result: { kind: "accepted", position: at + (lane.head ? 1 : 0), late },
  };
}

/**
 * What to attempt now, if anything: the head again once its retry time has come or its lease has
 * passed (a crash lost its report), else the first queued delivery when there is no head.
 */
export function next(lane: LaneState, now: number, leaseMs: number): { lane: LaneState; step: LaneStep } {
  if (lane.held) return { lane, step: { kind: lengthOf(lane) > 0 ? "held" : "idle" } };
  const head = lane.head;
  if (head?.phase.kind === "in_flight" && now < head.phase.until) {
    return { lane, step: { kind: "in_flight", until: head.phase.until } };
  }
  if (head?.phase.kind === "due_at" && now < head.phase.at) {
    return { lane, step: { kind: "wait", until: head.phase.at } };
  }
  if (head) return handOut(lane, head, now + leaseMs, head.phase.kind === "in_flight");
  const [first, ...rest] = lane.queued;
  if (!first) return { lane, step: { kind: "idle" } };
  return handOut({ ...lane, queued: rest }, { ...first, attempts: 0 }, now + leaseMs, false);
}

/** Makes `item` the head, in flight until `until` under the next token. */
function handOut(
  lane: LaneState,
  item: Queued & { attempts: number },
  until: number,
  redelivery: boolean,
): { lane: LaneState; step: LaneStep } {
  const token = lane.lastToken + 1;
  const attempt = item.attempts + 1;
  const head: Head = { ...item, attempts: attempt, phase: { kind: "in_flight", token, until } };
  const highestHandedOut = Math.max(lane.highestHandedOut ?? item.sequence, item.sequence);
  const { deliveryId, sequence, event } = item;
  return {
    lane: { ...lane, head, lastToken: token, highestHandedOut },
    step: { kind: "attempt", deliveryId, sequence, event, token, attempt, redelivery },
  };
}

/**
 * The outcome of the attempt `token` was given for. Delivered or failed, the head settles and the
 * next delivery may go; retry keeps the head, due at `at` (a time already past is due now).
 */
export function report(
  lane: LaneState,
  token: number,
  outcome: Outcome,
  now: number,
  limits: LaneLimits = LANE_LIMITS,
): { lane: LaneState; result: Reported } {
  const head = lane.head;
  if (head?.phase.kind !== "in_flight" || head.phase.token !== token)
    return { lane, result: { kind: "stale" } };
  if (outcome.kind === "retry") {
    const at = Math.max(outcome.at, now);
    return {
      lane: { ...lane, head: { ...head, phase: { kind: "due_at", at } } },
      result: { kind: "retry", at },
    };
  }
  const { deliveryId, sequence, event } = head;
  const recentlySettled = [...lane.recentlySettled, deliveryId].slice(-limits.rememberSettled);
  return {
    lane: { ...lane, head: null, recentlySettled },
    result: { kind: "settled", deliveryId, sequence, event, outcome: outcome.kind, attempts: head.attempts },
  };
}

/** A disabled endpoint's lanes hand nothing out; they keep their deliveries and their order. */
export function hold(lane: LaneState): LaneState {
  return { ...lane, held: true };
}

export function release(lane: LaneState): LaneState {
  return { ...lane, held: false };
}

/** How many deliveries are ahead of this one (0: the head); null if the lane does not hold it. */
export function positionOf(lane: LaneState, deliveryId: DeliveryId): number | null {
  if (lane.head?.deliveryId === deliveryId) return 0;
  const index = lane.queued.findIndex((q) => q.deliveryId === deliveryId);
  return index < 0 ? null : index + (lane.head ? 1 : 0);
}

/** The lane's queue for the API, in the order it will be sent: what is waiting behind what. */
export function waiting(lane: LaneState): LaneEntry[] {
  const entries: LaneEntry[] = [];
  const head = lane.head;
  if (head) {
    const base = { position: 0, sequence: head.sequence, deliveryId: head.deliveryId };
    entries.push(
      head.phase.kind === "in_flight"
        ? { ...base, state: "in_flight", until: head.phase.until }
        : { ...base, state: "due_at", at: head.phase.at },
    );
  }
  for (const q of lane.queued) {
    entries.push({
      position: entries.length,
      sequence: q.sequence,
      deliveryId: q.deliveryId,
      state: "waiting",
    });
  }
  return entries;
}

/**
 * When `next` may have something to hand out (at or before `now`: at once), for the owner's alarm;
 * null while the lane is empty or held (a release or an enqueue is what wakes it then).
 */
export function wakeAt(lane: LaneState, now: number): number | null {
  if (lane.held) return null;
  if (lane.head) return lane.head.phase.kind === "in_flight" ? lane.head.phase.until : lane.head.phase.at;
  return lane.queued.length > 0 ? now : null;
}

function lengthOf(lane: LaneState): number {
  return lane.queued.length + (lane.head ? 1 : 0);
}

/** After every queued delivery of a lower or equal sequence: a binary search, lanes can be long. */
function insertionIndex(queued: readonly Queued[], sequence: number): number {
  let low = 0;
  let high = queued.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((queued[mid]?.sequence ?? 0) <= sequence) low = mid + 1;
    else high = mid;
  }
  return low;
}
