import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DeliveryId, EventId } from "../../../src/lib/ids";
import {
  enqueue,
  hold,
  LANE_LIMITS,
  type LaneLimits,
  type LaneState,
  type LaneStep,
  newLane,
  next,
  type Outcome,
  positionOf,
  release,
  report,
  waiting,
  wakeAt,
} from "../../../src/ordering/lane";

const LEASE = 1_000;
const id = (n: number | string) => `dlv_${n}` as DeliveryId;
const EVENT = { id: "evt_1" as EventId, type: "matter.updated" };
const item = (sequence: number) => ({ deliveryId: id(sequence), sequence, event: EVENT });

/** A lane with these sequences enqueued in this order, at time 0, delivery ids `dlv_<sequence>`. */
function laneOf(...sequences: number[]): LaneState {
  return sequences.reduce((lane, s) => enqueue(lane, item(s), 0).lane, newLane());
}

/** Hands out what `next` gives at `now`; fails the test if it is not an attempt. */
function take(lane: LaneState, now = 0) {
  const { lane: after, step } = next(lane, now, LEASE);
  if (step.kind !== "attempt") throw new Error(`expected an attempt, got ${step.kind}`);
  return { lane: after, step };
}

/** Sends everything the lane holds, each delivered at once, and lists the sequences in send order. */
function drain(lane: LaneState, now = 0): number[] {
  const sent: number[] = [];
  for (let step = next(lane, now, LEASE); step.step.kind === "attempt"; step = next(lane, now, LEASE)) {
    sent.push(step.step.sequence);
    lane = report(step.lane, step.step.token, { kind: "delivered" }, now).lane;
  }
  return sent;
}

describe("an ordered lane", () => {
  it("sends in sequence order, one at a time", () => {
    const first = take(laneOf(1, 2, 3));
    expect(first.step).toMatchObject({ deliveryId: id(1), attempt: 1, redelivery: false });
    expect(next(first.lane, 10, LEASE).step).toEqual({ kind: "in_flight", until: LEASE });
    const settled = report(first.lane, first.step.token, { kind: "delivered" }, 10);
    expect(settled.result).toEqual({
      kind: "settled",
      deliveryId: id(1),
      sequence: 1,
      event: EVENT,
      outcome: "delivered",
      attempts: 1,
    });
    expect(drain(settled.lane, 10)).toEqual([2, 3]);
  });

  it("sends in sequence order whatever order deliveries arrive in", () => {
    expect(drain(laneOf(3, 1, 2))).toEqual([1, 2, 3]);
  });

  it("sends a late arrival next, among those not yet sent, and says it is late", () => {
    const five = take(laneOf(5, 7));
    const late = enqueue(five.lane, item(3), 1);
    expect(late.result).toEqual({ kind: "accepted", position: 1, late: true });
    // Sequence 5 is in flight: 3 cannot go before it any more, it goes before 7.
    const after = report(late.lane, five.step.token, { kind: "delivered" }, 2).lane;
    expect(drain(after, 2)).toEqual([3, 7]);
    expect(enqueue(laneOf(5), item(4), 0).result).toMatchObject({ late: false });
  });

  it("keeps a retried head at the head, after a late arrival too, and nothing passes it", () => {
    const first = take(laneOf(5, 6));
    const retried = report(first.lane, first.step.token, { kind: "retry", at: 5_000 }, 100);
    expect(retried.result).toEqual({ kind: "retry", at: 5_000 });
    const withLate = enqueue(retried.lane, item(2), 200).lane;
    expect(next(withLate, 4_999, LEASE).step).toEqual({ kind: "wait", until: 5_000 });
    expect(wakeAt(withLate, 4_999)).toBe(5_000);
    const again = take(withLate, 5_000);
    expect(again.step).toMatchObject({ deliveryId: id(5), attempt: 2, redelivery: false });
    expect(drain(report(again.lane, again.step.token, { kind: "delivered" }, 5_000).lane, 5_000)).toEqual([
      2, 6,
    ]);
  });

  it("a retry time already past is due at once", () => {
    const first = take(laneOf(1));
    const retried = report(first.lane, first.step.token, { kind: "retry", at: 0 }, 300);
    expect(retried.result).toEqual({ kind: "retry", at: 300 });
    expect(take(retried.lane, 300).step.deliveryId).toBe(id(1));
  });

  it("does not let a failed delivery block the lane", () => {
    const first = take(laneOf(1, 2));
    const failed = report(first.lane, first.step.token, { kind: "failed" }, 10);
    expect(failed.result).toMatchObject({ kind: "settled", deliveryId: id(1), outcome: "failed" });
    expect(take(failed.lane, 10).step.deliveryId).toBe(id(2));
  });

  it("ignores a report with a stale or unknown token", () => {
    const first = take(laneOf(1, 2));
    for (const token of [first.step.token + 1, 0, -1]) {
      const stale = report(first.lane, token, { kind: "delivered" }, 10);
      expect(stale.result).toEqual({ kind: "stale" });
      expect(stale.lane).toBe(first.lane);
    }
    // A second report of the same attempt, after the first settled it, is stale too.
    const settled = report(first.lane, first.step.token, { kind: "failed" }, 10).lane;
    const second = take(settled, 10);
    expect(report(second.lane, first.step.token, { kind: "delivered" }, 10).result).toEqual({
      kind: "stale",
    });
    expect(report(newLane(), 1, { kind: "delivered" }, 0).result).toEqual({ kind: "stale" });
  });

  it("hands the same head out again once its lease has passed, never the next one", () => {
    const first = take(laneOf(1, 2), 0);
    expect(next(first.lane, LEASE - 1, LEASE).step.kind).toBe("in_flight");
    const again = take(first.lane, LEASE);
    expect(again.step).toMatchObject({ deliveryId: id(1), attempt: 2, redelivery: true });
    expect(again.step.token).not.toBe(first.step.token);
    // The crashed attempt's report, should it come after all, is stale; the new one's counts.
    expect(report(again.lane, first.step.token, { kind: "delivered" }, LEASE).result.kind).toBe("stale");
    expect(report(again.lane, again.step.token, { kind: "delivered" }, LEASE).result.kind).toBe("settled");
  });

  it("holds a disabled endpoint's lane and resumes it in order", () => {
    const first = take(laneOf(2, 4));
    const held = hold(first.lane);
    expect(next(held, 0, LEASE).step).toEqual({ kind: "held" });
    expect(wakeAt(held, 0)).toBeNull();
    // An attempt made before the hold still reports; enqueueing goes on, in order.
    let lane = report(held, first.step.token, { kind: "delivered" }, 10).lane;
    lane = enqueue(lane, item(3), 20).lane;
    expect(next(lane, 10_000, LEASE).step).toEqual({ kind: "held" });
    expect(next(hold(newLane()), 0, LEASE).step).toEqual({ kind: "idle" });
    expect(drain(release(lane), 10_000)).toEqual([3, 4]);
  });

  it("treats a delivery enqueued twice as one, before and after it settles", () => {
    const lane = laneOf(1, 2);
    const twice = enqueue(lane, item(1), 5);
    expect(twice.result).toEqual({ kind: "duplicate" });
    expect(twice.lane).toBe(lane);
    const first = take(lane);
    const settled = report(first.lane, first.step.token, { kind: "delivered" }, 10).lane;
    expect(enqueue(settled, item(1), 20).result).toEqual({ kind: "duplicate" });
    expect(drain(settled, 20)).toEqual([2]);
  });

  it("remembers only the latest settled deliveries", () => {
    const limits: LaneLimits = { maxLength: 10, rememberSettled: 2 };
    let lane = newLane();
    for (const s of [1, 2, 3]) {
      lane = enqueue(lane, item(s), 0, limits).lane;
      const { lane: handed, step } = take(lane);
      lane = report(handed, step.token, { kind: "delivered" }, 0, limits).lane;
    }
    expect(lane.recentlySettled).toEqual([id(2), id(3)]);
  });

  it("refuses a delivery beyond the lane's bound, so it can be failed, not dropped", () => {
    expect(LANE_LIMITS.maxLength).toBe(10_000);
    const limits: LaneLimits = { maxLength: 2, rememberSettled: 10 };
    const two = [1, 2].reduce((l, s) => enqueue(l, item(s), 0, limits).lane, newLane());
    const full = enqueue(two, item(3), 0, limits);
    expect(full.result).toEqual({ kind: "refused", reason: "lane_full", maxLength: 2 });
    expect(full.lane).toBe(two);
    const first = take(two);
    const room = report(first.lane, first.step.token, { kind: "failed" }, 0, limits).lane;
    expect(enqueue(room, item(3), 0, limits).result.kind).toBe("accepted");
  });

  it("shows what is waiting behind what, and each delivery's position", () => {
    const first = take(laneOf(30, 10, 20));
    expect(waiting(first.lane)).toEqual([
      { position: 0, sequence: 10, deliveryId: id(10), state: "in_flight", until: LEASE },
      { position: 1, sequence: 20, deliveryId: id(20), state: "waiting" },
      { position: 2, sequence: 30, deliveryId: id(30), state: "waiting" },
    ]);
    const retried = report(first.lane, first.step.token, { kind: "retry", at: 9_000 }, 10).lane;
    expect(waiting(retried)[0]).toMatchObject({ state: "due_at", at: 9_000 });
    expect(positionOf(retried, id(30))).toBe(2);
    expect(positionOf(retried, id(10))).toBe(0);
    expect(positionOf(retried, id(99))).toBeNull();
    expect(positionOf(laneOf(30, 10), id(30))).toBe(1);
  });

  it("keeps its state plain JSON and leaves the state it is given as it was", () => {
    const lane = take(laneOf(2, 1)).lane;
    const copy = structuredClone(lane);
    enqueue(lane, item(0), 1);
    next(lane, 5_000, LEASE);
    report(lane, lane.lastToken, { kind: "retry", at: 3 }, 2);
    expect(lane).toEqual(copy);
    expect(JSON.parse(JSON.stringify(lane))).toEqual(lane);
  });
});

// ---------------------------------------------------------------------------------------------------
// The model test: random commands, the lane against a naive reference queue written here.

/**
 * The reference: every delivery ever accepted in one array kept sorted by sequence, a pointer to the
 * head (the one handed out and not settled), a hold flag. Written for plainness, not speed.
 */
type RefItem = { id: DeliveryId; sequence: number; status: "waiting" | "head" | "settled" };
type Ref = {
  items: RefItem[];
  head: RefItem | null;
  held: boolean;
  token: number;
  lease: { token: number; until: number } | null;
  dueAt: number;
  highest: number;
};

const refNew = (): Ref => ({
  items: [],
  head: null,
  held: false,
  token: 0,
  lease: null,
  dueAt: 0,
  highest: -1,
});

function refEnqueue(ref: Ref, deliveryId: DeliveryId, sequence: number, limits: LaneLimits): string {
  if (ref.items.some((i) => i.id === deliveryId)) return "duplicate";
  if (ref.items.filter((i) => i.status !== "settled").length >= limits.maxLength) return "refused";
  ref.items.push({ id: deliveryId, sequence, status: "waiting" });
  ref.items.sort((a, b) => a.sequence - b.sequence);
  return sequence < ref.highest ? "accepted late" : "accepted";
}

function refNext(ref: Ref, now: number): string {
  if (ref.held) return ref.items.some((i) => i.status !== "settled") ? "held" : "idle";
  if (ref.head && ref.lease && now < ref.lease.until) return "in_flight";
  if (ref.head && !ref.lease && now < ref.dueAt) return "wait";
  const redelivery = ref.head !== null && ref.lease !== null;
  const item = ref.head ?? ref.items.find((i) => i.status === "waiting");
  if (!item) return "idle";
  item.status = "head";
  ref.head = item;
  ref.token++;
  ref.lease = { token: ref.token, until: now + LEASE };
  ref.highest = Math.max(ref.highest, item.sequence);
  return `attempt ${item.id} ${ref.token}${redelivery ? " again" : ""}`;
}

function refReport(ref: Ref, token: number, outcome: Outcome, now: number): string {
  if (!ref.head || ref.lease?.token !== token) return "stale";
  ref.lease = null;
  if (outcome.kind === "retry") {
    ref.dueAt = Math.max(outcome.at, now);
    return "retry";
  }
  ref.head.status = "settled";
  ref.head = null;
  return `settled ${outcome.kind}`;
}

/** The reference's queue, in send order. */
const refOrder = (ref: Ref) => [
  ...(ref.head ? [ref.head.id] : []),
  ...ref.items.filter((i) => i.status === "waiting").map((i) => i.id),
];

const describeStep = (step: LaneStep) =>
  step.kind === "attempt"
    ? `attempt ${step.deliveryId} ${step.token}${step.redelivery ? " again" : ""}`
    : step.kind;

type Command =
  | { kind: "enqueue"; item: number }
  | { kind: "replay"; item: number }
  | { kind: "next" }
  | { kind: "report"; token: "current" | "stale" | "unknown"; pick: number; outcome: Outcome }
  | { kind: "advance"; ms: number }
  | { kind: "hold" }
  | { kind: "release" };

const POOL = 10;
const anyOutcome = fc.oneof(
  fc.constant<Outcome>({ kind: "delivered" }),
  fc.constant<Outcome>({ kind: "failed" }),
  fc.integer({ min: 0, max: 3_000 }).map((delay): Outcome => ({ kind: "retry", at: delay })),
);
const anyCommand: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.nat(POOL - 1).map((item) => ({ kind: "enqueue", item }) as const), weight: 4 },
  { arbitrary: fc.nat(POOL - 1).map((item) => ({ kind: "replay", item }) as const), weight: 1 },
  { arbitrary: fc.constant({ kind: "next" } as const), weight: 4 },
  {
    arbitrary: fc.record({
      kind: fc.constant("report" as const),
      token: fc.constantFrom("current" as const, "current" as const, "stale" as const, "unknown" as const),
      pick: fc.nat(),
      outcome: anyOutcome,
    }),
    weight: 4,
  },
  {
    arbitrary: fc.integer({ min: 0, max: 2_500 }).map((ms) => ({ kind: "advance", ms }) as const),
    weight: 2,
  },
  { arbitrary: fc.constant({ kind: "hold" } as const), weight: 1 },
  { arbitrary: fc.constant({ kind: "release" } as const), weight: 1 },
);

/** Runs the commands against both, step by step, checking agreement and the invariants. */
function runModel(sequences: number[], commands: Command[]): void {
  const limits: LaneLimits = { maxLength: 6, rememberSettled: 1_000 };
  let lane = newLane();
  const ref = refNew();
  let now = 0;
  let nextReplaySequence = 10_000;
  const tokens: number[] = [];
  const accepted = new Set<DeliveryId>();
  const settled = new Map<DeliveryId, "delivered" | "failed">();
  const arrivedAt = new Map<DeliveryId, number>();
  const firstHandedOutAt = new Map<DeliveryId, number>();
  let leased: { id: DeliveryId; until: number } | null = null;

  const add = (deliveryId: DeliveryId, sequence: number, step: number) => {
    const done = enqueue(lane, { deliveryId, sequence, event: EVENT }, now, limits);
    lane = done.lane;
    const said = done.result.kind === "accepted" && done.result.late ? "accepted late" : done.result.kind;
    expect(said).toBe(refEnqueue(ref, deliveryId, sequence, limits));
    if (done.result.kind === "accepted") {
      accepted.add(deliveryId);
      arrivedAt.set(deliveryId, step);
      expect(positionOf(lane, deliveryId)).toBe(done.result.position);
    }
  };

  const step = (index: number): LaneStep => {
    const before = waiting(lane);
    const { lane: after, step } = next(lane, now, LEASE);
    lane = after;
    expect(describeStep(step)).toBe(refNext(ref, now));
    if (step.kind !== "attempt") return step;
    // One at a time: nothing else is handed out while a lease runs; after it, only the same head.
    if (leased && now < leased.until) throw new Error("handed out during a lease");
    if (leased && before[0]?.state === "in_flight") expect(step.deliveryId).toBe(leased.id);
    // No reordering: whatever waits with a lower sequence arrived after this one was first sent.
    const first = firstHandedOutAt.get(step.deliveryId) ?? index;
    firstHandedOutAt.set(step.deliveryId, first);
    for (const entry of before) {
      if (entry.state === "waiting" && entry.sequence < step.sequence) {
        expect(arrivedAt.get(entry.deliveryId) ?? -1).toBeGreaterThan(first);
      }
    }
    tokens.push(step.token);
    leased = { id: step.deliveryId, until: now + LEASE };
    return step;
  };

  const settle = (token: number, outcome: Outcome) => {
    const done = report(lane, token, outcome, now, limits);
    lane = done.lane;
    const said = done.result.kind === "settled" ? `settled ${done.result.outcome}` : done.result.kind;
    expect(said).toBe(refReport(ref, token, outcome, now));
    if (done.result.kind !== "stale") leased = null;
    if (done.result.kind === "settled") settled.set(done.result.deliveryId, done.result.outcome);
  };

  commands.forEach((command, index) => {
    switch (command.kind) {
      case "enqueue":
        add(id(command.item), sequences[command.item] ?? 0, index);
        break;
      case "replay": {
        // Replay or recover of a failed delivery: a new delivery, at the tail with a new sequence.
        const original = id(command.item);
        if (settled.get(original) === "failed")
          add(id(`${command.item}_r${index}`), nextReplaySequence++, index);
        break;
      }
      case "next":
        step(index);
        break;
      case "report": {
        const current = lane.head?.phase.kind === "in_flight" ? lane.head.phase.token : -1;
        const token =
          command.token === "current"
            ? current
            : command.token === "stale"
              ? (tokens[command.pick % Math.max(1, tokens.length)] ?? 0)
              : 1e9;
        settle(
          token,
          command.outcome.kind === "retry"
            ? { kind: "retry", at: now + command.outcome.at }
            : command.outcome,
        );
        break;
      }
      case "advance":
        now += command.ms;
        break;
      case "hold":
        lane = hold(lane);
        ref.held = true;
        break;
      case "release":
        lane = release(lane);
        ref.held = false;
        break;
    }
    // The state survives storage as JSON, and both agree on what waits in what order.
    lane = JSON.parse(JSON.stringify(lane)) as LaneState;
    const view = waiting(lane);
    expect(view.map((e) => e.deliveryId)).toEqual(refOrder(ref));
    expect(view.filter((e) => e.state === "in_flight").length).toBeLessThanOrEqual(1);
  });

  // Driven to completion, with time enough for every lease and retry: nothing is dropped.
  lane = release(lane);
  ref.held = false;
  for (let i = 0; i < 4 * POOL; i++) {
    now += 10_000;
    const s = step(commands.length + i);
    if (s.kind === "attempt") settle(s.token, { kind: "delivered" });
    else if (s.kind === "idle") break;
  }
  expect(waiting(lane)).toEqual([]);
  for (const deliveryId of accepted) expect(settled.has(deliveryId)).toBe(true);
}

describe("an ordered lane against a reference queue", () => {
  it("agrees on what is handed out, never reorders, never drops", () => {
    const sequences = fc.uniqueArray(fc.integer({ min: 1, max: 1_000 }), {
      minLength: POOL,
      maxLength: POOL,
    });
    fc.assert(
      fc.property(sequences, fc.array(anyCommand, { maxLength: 80 }), (s, commands) => runModel(s, commands)),
      { numRuns: 300 },
    );
  });
});
