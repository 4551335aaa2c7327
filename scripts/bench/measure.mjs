// How the bench loads a deployment and reads the receiver: burst, steady rate and the noisy
// neighbour's timeline, and the statistics of what arrived.
import { pool, workerdCpu, workerdCpuSince } from "../local-stack.mjs";

/** How long the bench waits for a load's deliveries before it gives up on the run. */
export const WAIT_LIMIT_MS = 15 * 60_000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

export const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

/** p50 and p99 of publish→arrival of `deliveries` (the receiver's). */
export function latencyOf(deliveries) {
  const latencies = deliveries.map((d) => d.arrivedAt - d.publishedAt).sort((x, y) => x - y);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function waitForAll(receiver, count, prefix) {
  if (!(await receiver.waitFor(count, Date.now() + WAIT_LIMIT_MS, prefix))) {
    const got = receiver.deliveries(prefix).length;
    throw new Error(`only ${got} of ${count} deliveries arrived within ${WAIT_LIMIT_MS / 60_000} min`);
  }
}

/** 5% of a load of `events`: what warmUp publishes before it. */
export const warmUpCount = (events) => Math.ceil(events / 20);

/**
 * Not measured: `count` events first (5% of a load, warmUpCount), on both sides, so that the isolate's
 * start, compilation and first queries are not counted against a sustained load. They are published
 * as `publish(firstIndex + i)`, apart from the load's own.
 */
export async function warmUp(receiver, count, fanOut, publish, prefix, firstIndex = 1_000_000) {
  receiver.reset();
  await pool(count, 16, (i) => publish(firstIndex + i));
  await waitForAll(receiver, count * fanOut, prefix);
  await sleep(1_000); // the consumer runs end after their last request
}

/**
 * A burst: `events` published with `publish(i)`, 16 at a time, and the deliveries' arrival. Throughput
 * counts deliveries (distinct event and endpoint), not requests; accepted/s is the events over the time
 * until the last publish was answered, which tells whether publishing held the deliveries back.
 */
export async function measureBurst(receiver, events, fanOut, publish, prefix) {
  receiver.reset();
  const started = Date.now();
  const cpuBefore = workerdCpu();
  await pool(events, 16, publish);
  const acceptedPerSecond = events / ((Date.now() - started) / 1000);
  await waitForAll(receiver, events * fanOut, prefix);
  const cpuMs = workerdCpuSince(cpuBefore);
  const arrived = receiver.deliveries(prefix);
  const elapsedMs = Math.max(...arrived.map((d) => d.arrivedAt)) - started;
  return {
    deliveries: arrived.length,
    duplicates: receiver.duplicates(prefix),
    elapsedMs,
    perSecond: arrived.length / (elapsedMs / 1000),
    acceptedPerSecond,
    ...latencyOf(arrived),
    cpuMs,
  };
}

/**
 * Whether each lane's deliveries first arrived in acceptance order, as far as the bench can know that
 * order: a publish answered before another is sent is accepted before it (docs/architecture.md#ordered-lanes),
 * so its event must arrive first; two publishes in flight together may be accepted either way. `laneOf(d)`
 * reads a delivery's lane, `publishedOf(d)` when its publish was sent and answered ({ sentAt, answeredAt },
 * on the bench's one clock). A violation is a delivery that arrived before one whose publish was answered
 * before its own was sent; `unread`, deliveries whose lane or publish is unknown (checked for nothing);
 * `orderedPairs`, the share of a lane's pairs of deliveries whose order the publishes fixed (what the check
 * covers: the rest went in flight together).
 */
export function orderKept(deliveries, laneOf, publishedOf) {
  const lanes = new Map();
  let unread = 0;
  for (const d of deliveries) {
    const lane = laneOf(d);
    const published = publishedOf(d);
    if (lane === undefined || !published) unread++;
    else {
      if (!lanes.has(lane)) lanes.set(lane, []);
      lanes.get(lane).push({ arrival: d.arrival, ...published });
    }
  }
  let violations = 0;
  let pairs = 0;
  let orderedPairs = 0;
  for (const inLane of lanes.values()) {
    inLane.sort((x, y) => x.arrival - y.arrival);
    // From the last arrival back: the earliest answer among those that arrived after this one.
    let earliestAnsweredLater = Number.POSITIVE_INFINITY;
    for (let k = inLane.length - 1; k >= 0; k--) {
      if (earliestAnsweredLater < inLane[k].sentAt) violations++;
      earliestAnsweredLater = Math.min(earliestAnsweredLater, inLane[k].answeredAt);
    }
    const answered = inLane.map((d) => d.answeredAt).sort((x, y) => x - y);
    for (const d of inLane) orderedPairs += answeredBefore(answered, d.sentAt);
    pairs += (inLane.length * (inLane.length - 1)) / 2;
  }
  const checked = deliveries.length - unread;
  return {
    lanes: lanes.size,
    checked,
    violations,
    unread,
    orderedPairs: pairs > 0 ? orderedPairs / pairs : null,
  };
}

/** How many of `sorted` (ascending) are below `t`: a binary search. */
function answeredBefore(sorted, t) {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid] < t) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** At most this many publishes in flight at a steady rate; beyond, sends wait (and fall behind). */
const STEADY_IN_FLIGHT = 256;

/**
 * A steady load: `publish(i)` at `rate` a second for `seconds`, on schedule whatever the answers
 * (open loop, up to STEADY_IN_FLIGHT at once), then every delivery waited for. Reports when the last
 * publish was accepted (a service that accepts more slowly than offered falls behind there) and how
 * late the sends were on their schedule at most.
 */
export async function measureSteady(receiver, rate, seconds, publish, prefix) {
  receiver.reset();
  const events = Math.round(rate * seconds);
  const started = Date.now();
  const inFlight = new Set();
  let lastAcceptedAt = started;
  let maxLateMs = 0;
  for (let i = 0; i < events; i++) {
    const due = started + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    while (inFlight.size >= STEADY_IN_FLIGHT) await Promise.race(inFlight);
    maxLateMs = Math.max(maxLateMs, Date.now() - due);
    const sent = publish(i).then(() => {
      lastAcceptedAt = Math.max(lastAcceptedAt, Date.now());
      inFlight.delete(sent);
    });
    inFlight.add(sent);
  }
  await Promise.all(inFlight);
  await waitForAll(receiver, events, prefix);
  const arrived = receiver.deliveries(prefix);
  return {
    events,
    offeredPerSecond: rate,
    acceptedPerSecond: events / ((lastAcceptedAt - started) / 1000),
    maxLateMs,
    deliveries: arrived.length,
    duplicates: receiver.duplicates(prefix),
    ...latencyOf(arrived),
  };
}

/**
 * The noisy neighbour's timeline: B's `bEvents` (and A's `aEvents`, unless `aEvents` is 0) published
 * evenly over `seconds`, A's from the start, B's half a step later, each on schedule whatever the
 * answers. `publishA(i)` resolves when accepted; `publishB(i)` resolves to B's event and the URL it
 * goes to ({ id, url }). Then B's deliveries are waited for, until `waitMs` after B's last publish.
 * Returns B's latencies: arrived ones exact, the others as a lower bound (the time waited for them),
 * with `missing` saying how many did not arrive.
 */
export async function measureNeighbour(receiver, { aEvents, bEvents, seconds, waitMs }, publishA, publishB) {
  receiver.reset();
  const started = Date.now();
  const timeline = [
    ...Array.from({ length: aEvents }, (_, i) => ({ at: (i * seconds * 1000) / aEvents, a: i })),
    ...Array.from({ length: bEvents }, (_, i) => ({ at: ((i + 0.5) * seconds * 1000) / bEvents, b: i })),
  ].sort((x, y) => x.at - y.at);
  const aSends = [];
  const bSends = [];
  for (const step of timeline) {
    await sleep(started + step.at - Date.now());
    if (step.a !== undefined) aSends.push(publishA(step.a));
    else bSends.push(publishB(step.b).then((b) => ({ ...b, sentAt: Date.now() })));
  }
  await Promise.all(aSends);
  const bPublished = await Promise.all(bSends);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const arrived = bPublished.filter((b) => receiver.delivery(b.url, b.id));
    if (arrived.length === bPublished.length || Date.now() >= deadline) break;
    await sleep(200);
  }
  const endedAt = Date.now();
  const values = bPublished.map((b) => {
    const delivery = receiver.delivery(b.url, b.id);
    return delivery
      ? { ms: delivery.arrivedAt - delivery.publishedAt, exact: true }
      : { ms: endedAt - b.sentAt, exact: false };
  });
  const sorted = values.map((v) => v.ms).sort((x, y) => x - y);
  const missing = values.filter((v) => !v.exact).length;
  return {
    events: bPublished.length,
    missing,
    // With any delivery missing, each figure is a lower bound: its true value is at least this.
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}
