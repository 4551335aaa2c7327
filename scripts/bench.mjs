#!/usr/bin/env node
// `npm run bench [-- --events 5000 --fanout-events 500 --publishes 50 --rounds 2 --steady-seconds 60
// --neighbour-a-events 60 --neighbour-b-events 15 --neighbour-seconds 20 --neighbour-wait 120
// --profile-events 2000 --ordered-events 1000 --ordered-keys 50 --ordered-endpoint-events 200]`: how
// fast and how fairly deliveries go, measured against the runtime's own
// limit, and what they cost. On this machine, with `wrangler dev` (local D1, Queues, DO) and a receiver
// on 127.0.0.1 (scripts/bench/), it measures, each side by side with bench/baseline (a Worker that only
// POSTs a precomputed signed body, on the same two paths as the service's publish: from the publish's
// own invocation for few URLs, else one queue message per event):
//   1. a burst: delivery throughput and publish→arrival latency, N events to 1 endpoint and M to 10
//      (three of them with a rateLimitPerSecond), `--rounds` rounds of each side in turn, the baseline
//      first in every other round, so a machine that slows down or speeds up weighs on both alike; each
//      load starts with an unmeasured warm-up of 5% of it. Every round is printed, and the ratio of
//      throughputs is the mean of the rounds' ratios;
//   2. a steady load: events to one endpoint at half the baseline's burst rate at fan-out 1 (measured
//      just before), for `--steady-seconds`, open loop; p50 and p99 publish→arrival of each side;
//   3. the noisy neighbour: organization B's endpoint answers at once, organization A's after 8 s (or
//      never, so attempts time out); B's p99 publish→arrival alone, and while A publishes alongside;
//   4. publish latency with 1, 100 and 1,000 matching endpoints (publishing must not grow with fan-out);
//   5. the cost per million delivered events at the prices of bench/prices.mjs, from the operations
//      counted by bench/metered in a separate run of each burst (counting costs CPU: throughput, latency
//      and CPU come from the runs of the service as deployed), and the CPU time of the local runtime;
//   6. what a delivery costs over its whole life: the D1 bytes each delivered event leaves, kept as long
//      as retention keeps them on average, and its removal by retention run with the clock far ahead
//      (bench/metered/storage.ts); the D1 statements per delivery, and the rows and bytes of each shard;
//   7. where the CPU goes: a CPU profile of each side's Worker isolate over a burst at fan-out 1, by
//      part (scripts/bench/profile.mjs), beside the CPU of the whole local runtime;
//   8. ordered delivery, on our side only (the baseline has no ordering): at fan-out 1, `--ordered-events`
//      events unordered (as the burst), the same ordered by key over `--ordered-keys` keys (a lane
//      each), and `--ordered-endpoint-events` ordered by endpoint (one lane: one delivery at a time),
//      all published as the burst's. Each load's throughput and latency as the burst's, whether each
//      lane's events arrived in acceptance order (as far as the publishes' times fix it), and its cost
//      per million from a metered run, beside unordered's.
// Then the targets, each met, NOT met, or "no data" when nothing was measured behind it (and the
// ordered part's line, reported, not a target).
// `--only burst,steady,neighbour,publish,profile,ordered` runs some parts (development; steady needs
// burst or `--steady-rate`). Loopback only; stops by itself.
import { parseArgs } from "node:util";
import {
  costPerMillion,
  d1PerDelivery,
  durableObjectCallsPerEndpointBatch,
  durableObjectRequestsByMethod,
  lifeCostPerMillion,
  orderedCostPerMillion,
  usagePerDelivery,
} from "./bench/cost.mjs";
import { mean } from "./bench/measure.mjs";
import { startReceiver } from "./bench/receiver.mjs";
import {
  printBurst,
  printCost,
  printD1,
  printNeighbour,
  printOrdered,
  printOrderedCost,
  printProfile,
  printPublish,
  printSteady,
  printTargets,
  printWholeLife,
} from "./bench/report.mjs";
import {
  baselineBurst,
  baselineNeighbour,
  baselineSteady,
  oursBurst,
  oursNeighbour,
  oursSteady,
  profiles,
  publishLatency,
} from "./bench/sides.mjs";

const PARTS = ["burst", "steady", "neighbour", "publish", "profile", "ordered"];
const { values } = parseArgs({
  options: {
    events: { type: "string", default: "5000" },
    "fanout-events": { type: "string", default: "500" },
    publishes: { type: "string", default: "50" },
    rounds: { type: "string", default: "2" },
    "steady-seconds": { type: "string", default: "60" },
    "steady-rate": { type: "string" },
    "neighbour-a-events": { type: "string", default: "60" },
    "neighbour-b-events": { type: "string", default: "15" },
    "neighbour-seconds": { type: "string", default: "20" },
    "neighbour-wait": { type: "string", default: "120" },
    "profile-events": { type: "string", default: "2000" },
    "ordered-events": { type: "string", default: "1000" },
    "ordered-keys": { type: "string", default: "50" },
    // Fewer: one lane delivers one event at a time, after the one before has been answered.
    "ordered-endpoint-events": { type: "string", default: "200" },
    only: { type: "string", default: PARTS.join(",") },
  },
});
const positive = (name) => {
  const n = Number(values[name]);
  if (!(n > 0)) throw new Error(`--${name}: a positive number, not ${values[name]}`);
  return n;
};
const EVENTS = positive("events");
const FANOUT_EVENTS = positive("fanout-events");
const PUBLISHES = positive("publishes");
const ROUNDS = positive("rounds");
const STEADY_SECONDS = positive("steady-seconds");
const NEIGHBOUR = {
  aEvents: positive("neighbour-a-events"),
  bEvents: positive("neighbour-b-events"),
  seconds: positive("neighbour-seconds"),
  waitSeconds: positive("neighbour-wait"),
  waitMs: positive("neighbour-wait") * 1000,
};
const ORDERED = {
  events: positive("ordered-events"),
  keys: positive("ordered-keys"),
  endpointEvents: positive("ordered-endpoint-events"),
};
const only = new Set(values.only.split(",").map((part) => part.trim()));
for (const part of only)
  if (!PARTS.includes(part)) throw new Error(`--only: one or more of ${PARTS.join(", ")}`);
if (only.has("steady") && !only.has("burst") && values["steady-rate"] === undefined) {
  throw new Error(
    "--only steady needs burst too (it offers half the baseline's burst rate), or --steady-rate",
  );
}
const notRun = (part) => `${part} not run: --only ${values.only}`;

/** One burst load, `ROUNDS` rounds of each side, then the metered run of ours. */
async function burst(receiver, events, fanOut) {
  const rounds = [];
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`measuring ${events} events × ${fanOut} endpoint(s), round ${round} of ${ROUNDS}…`);
    const result = {};
    const turns = [
      async () => {
        result.ours = await oursBurst(receiver, events, fanOut, { meter: false });
      },
      async () => {
        result.baseline = await baselineBurst(receiver, events, fanOut);
      },
    ];
    if (round % 2 === 0) turns.reverse();
    for (const turn of turns) await turn();
    rounds.push({ ...result, ratio: result.ours.perSecond / result.baseline.perSecond });
  }
  console.log(`counting the operations of ${events} events × ${fanOut} endpoint(s)…`);
  const metered = await oursBurst(receiver, events, fanOut, { meter: true });
  const total = (side, key) => rounds.reduce((sum, round) => sum + round[side][key], 0);
  const measured = { cpuMs: total("ours", "cpuMs"), deliveries: total("ours", "deliveries") };
  const usage = usagePerDelivery(metered, measured);
  const cost = costPerMillion(usage);
  const d1 = d1PerDelivery(metered);
  const life = lifeCostPerMillion(d1);
  const parts = [cost?.total, life.storage, life.removal];
  return {
    events,
    fanOut,
    rounds,
    mean: {
      ours: mean(rounds.map((r) => r.ours.perSecond)),
      baseline: mean(rounds.map((r) => r.baseline.perSecond)),
      ratio: mean(rounds.map((r) => r.ratio)),
    },
    rateLimited: metered.rateLimited.length,
    usage,
    cost,
    meteredLines: metered.lines.operations.length,
    doCalls: durableObjectCallsPerEndpointBatch(metered.lines.operations, metered.rateLimited),
    d1,
    life,
    wholeLife: parts.some((p) => p === null || p === undefined) ? null : parts.reduce((a, b) => a + b, 0),
    baselineCpuMs: total("baseline", "cpuMs"),
    baselineDeliveries: total("baseline", "deliveries"),
    shards: { rounds: rounds.map((r) => r.ours.shard), metered: metered.shard },
    storage: metered.storage,
  };
}

/**
 * The ordered part's loads, at fan-out 1 on our side: unordered as the burst's, then ordered by key (a
 * lane per key) and by endpoint (one lane).
 */
const orderedLoads = () => [
  { label: "unordered", ordering: "none", lanes: 1, events: ORDERED.events },
  { label: `key (${ORDERED.keys} lanes)`, ordering: "key", lanes: ORDERED.keys, events: ORDERED.events },
  { label: "endpoint (1 lane)", ordering: "endpoint", lanes: 1, events: ORDERED.endpointEvents },
];

/** Two order checks as one: the measured run's and the metered run's (null: not checked, unordered). */
const bothOrders = (a, b) =>
  a && b
    ? {
        lanes: a.lanes,
        checked: a.checked + b.checked,
        violations: a.violations + b.violations,
        unread: a.unread + b.unread,
        // What the weaker of the two checks covered.
        orderedPairs: Math.min(a.orderedPairs ?? 0, b.orderedPairs ?? 0),
      }
    : null;

/**
 * One load of the ordered part: measured, then counted in a metered run, as a burst is (one round:
 * there is no baseline to alternate with). Its order is checked in both runs.
 */
async function orderedLoad(receiver, load) {
  const { label, events, ordering, lanes } = load;
  console.log(`measuring ${label}: ${events} events × 1 endpoint…`);
  const run = await oursBurst(receiver, events, 1, { meter: false, ordering, lanes });
  console.log(`counting the operations of ${label}…`);
  const metered = await oursBurst(receiver, events, 1, { meter: true, ordering, lanes });
  const usage = usagePerDelivery(metered, run);
  return {
    ...load,
    run,
    order: bothOrders(run.order, metered.order),
    usage,
    cost: orderedCostPerMillion(usage),
    d1: d1PerDelivery(metered),
    doRequests: durableObjectRequestsByMethod(metered),
    meteredLines: metered.lines.operations.length,
  };
}

const receiver = await startReceiver();
try {
  let rows = null;
  let steady = null;
  let neighbour = null;
  let publish = null;
  let profile = null;
  let ordered = null;
  if (only.has("burst")) {
    rows = [await burst(receiver, EVENTS, 1)];
  }
  if (only.has("steady")) {
    const capacity = rows ? rows[0].mean.baseline : null;
    const rate = values["steady-rate"] !== undefined ? positive("steady-rate") : capacity / 2;
    console.log(
      `measuring a steady ${rate.toFixed(1)} events/s for ${STEADY_SECONDS} s, baseline then ours…`,
    );
    const baseline = await baselineSteady(receiver, rate, STEADY_SECONDS);
    const ours = await oursSteady(receiver, rate, STEADY_SECONDS);
    steady = { rate, seconds: STEADY_SECONDS, capacity, ours, baseline };
  }
  if (only.has("burst")) {
    rows.push(await burst(receiver, FANOUT_EVENTS, 10));
  }
  if (only.has("neighbour")) {
    console.log("measuring the noisy neighbour, ours then the baseline…");
    neighbour = {
      plan: NEIGHBOUR,
      ours: await oursNeighbour(receiver, NEIGHBOUR),
      baseline: await baselineNeighbour(receiver, NEIGHBOUR),
    };
  }
  if (only.has("publish")) {
    console.log("measuring publish latency with 1, 100 and 1,000 endpoints…");
    publish = {};
    for (const endpoints of [1, 100, 1000])
      publish[endpoints] = await publishLatency(receiver, endpoints, PUBLISHES);
  }

  if (only.has("profile")) {
    const events = positive("profile-events");
    console.log(`profiling ${events} events × 1 endpoint, ours then the baseline…`);
    profile = { events, ...(await profiles(receiver, events)) };
  }

  if (only.has("ordered")) {
    ordered = [];
    for (const load of orderedLoads()) ordered.push(await orderedLoad(receiver, load));
  }

  if (rows) printBurst(rows);
  if (steady) printSteady(steady);
  if (neighbour) printNeighbour(neighbour);
  if (publish) printPublish(publish, PUBLISHES);
  if (profile) printProfile(profile);
  if (rows) {
    printCost(rows);
    printD1(rows);
    printWholeLife(rows);
  }
  if (ordered) {
    printOrdered(ordered);
    printOrderedCost(ordered);
  }
  printTargets({ rows, steady, neighbour, publish, ordered, notRun });
} finally {
  receiver.close();
}
