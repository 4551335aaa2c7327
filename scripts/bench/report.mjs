// The bench's printed report: its tables, then its targets. A figure with nothing behind it prints
// "-" in a table and "no data" in a target, never "met".
import {
  D1_STORAGE_PER_GB_MONTH,
  LOOPBACK_INVOCATIONS_PER_MILLION,
  PRICES_AS_OF,
  PRICES_PER_MILLION,
  STORAGE_PRICES_AS_OF,
} from "../../bench/prices.mjs";
import { shardTable } from "../local-stack.mjs";
import { SLOW_MS } from "./receiver.mjs";

const known = (n) => n !== null && n !== undefined && Number.isFinite(n);
const fmt = (n, digits = 1) => (known(n) ? n.toFixed(digits) : "-");

/**
 * Whole-life cost per million deliveries at fan-out 1 of the latest run before issue 16
 * (docs/performance.md, run of 2026-11-30): the bench's cost may not rise above it.
 */
export const COST_BEFORE_ISSUE_16 = 7.09;

export function printBurst(rows) {
  console.log(
    "\nBurst (throughput: deliveries/s, each event delivered to each endpoint once, duplicates not counted;",
  );
  console.log("publish→arrival latency in ms)");
  console.log(
    "load                 round   ours/s   baseline/s   ratio   ours p50   ours p99   baseline p50   baseline p99",
  );
  for (const r of rows) {
    const load = `${r.events} events × ${r.fanOut}`.padEnd(20);
    r.rounds.forEach(({ ours, baseline, ratio }, i) => {
      console.log(
        `${load} ${String(i + 1).padStart(5)} ${fmt(ours.perSecond).padStart(8)} ${fmt(baseline.perSecond).padStart(12)}` +
          ` ${fmt(ratio, 2).padStart(7)} ${fmt(ours.p50).padStart(10)} ${fmt(ours.p99).padStart(10)}` +
          ` ${fmt(baseline.p50).padStart(14)} ${fmt(baseline.p99).padStart(14)}`,
      );
    });
    console.log(
      `${load} ${"mean".padStart(5)} ${fmt(r.mean.ours).padStart(8)} ${fmt(r.mean.baseline).padStart(12)} ${fmt(r.mean.ratio, 2).padStart(7)}`,
    );
  }
  const duplicates = (side) => rows.map((r) => r.rounds.reduce((n, round) => n + round[side].duplicates, 0));
  console.log(
    `(ratio: ours ÷ baseline in each round, the baseline measured first in every other round; requests beyond ` +
      `a delivery's first: ours ${duplicates("ours").join(" and ")}, baseline ${duplicates("baseline").join(" and ")}; ` +
      `at fan-out 10, ${rows.find((r) => r.fanOut >= 10)?.rateLimited ?? 0} endpoints have a rateLimitPerSecond)`,
  );
}

export function printSteady(steady) {
  const { rate, seconds, capacity, ours, baseline } = steady;
  console.log(
    `\nSteady load: ${fmt(rate)} events/s offered to 1 endpoint for ${seconds} s` +
      (known(capacity)
        ? ` (half the baseline's burst rate at fan-out 1, ${fmt(capacity)}/s)`
        : " (--steady-rate)"),
  );
  console.log("side          accepted/s   delivered   late send ms   p50 ms   p99 ms");
  for (const [side, s] of [
    ["ours", ours],
    ["baseline", baseline],
  ]) {
    console.log(
      `${side.padEnd(13)} ${fmt(s.acceptedPerSecond).padStart(10)} ${String(s.deliveries).padStart(11)}` +
        ` ${fmt(s.maxLateMs, 0).padStart(14)} ${fmt(s.p50).padStart(8)} ${fmt(s.p99).padStart(8)}`,
    );
  }
  console.log(
    `${"ours ÷ baseline".padEnd(52)} ${`×${fmt(ours.p50 / baseline.p50, 2)}`.padStart(8)} ${`×${fmt(ours.p99 / baseline.p99, 2)}`.padStart(8)}`,
  );
  console.log("(accepted/s: events over the time until the last publish was answered; late send: the most a");
  console.log("publish left after its time, the bench's own lag)");
}

/** A latency of the noisy neighbour, "≥" when some of B's events had not arrived (a lower bound). */
const bound = (result, key) => (result.missing > 0 ? `≥ ${fmt(result[key])}` : fmt(result[key]));

/** B's p99 in `scenario` over B's p99 alone: { value, lowerBound }, value null if alone has no exact figure. */
export function neighbourRatio(results, scenario) {
  const alone = results.alone;
  const other = results[scenario];
  if (!alone || !other || alone.missing > 0 || !known(alone.p99) || alone.p99 <= 0) return { value: null };
  return { value: other.p99 / alone.p99, lowerBound: other.missing > 0 };
}

export function printNeighbour(neighbour) {
  const { plan, ours, baseline } = neighbour;
  console.log(
    `\nNoisy neighbour: B's publish→arrival in ms, ${plan.bEvents} events over ${plan.seconds} s to an endpoint ` +
      `that answers at once; A's ${plan.aEvents} events over the same ${plan.seconds} s to one that answers ` +
      `after ${SLOW_MS / 1000} s, or never (attempts time out after 15 s)`,
  );
  console.log(
    "B's events            ours p50     ours p99    ×alone   baseline p50   baseline p99    ×alone",
  );
  const ratio = (results, scenario) => {
    if (scenario === "alone") return "";
    const { value, lowerBound } = neighbourRatio(results, scenario);
    return value === null ? "-" : `${lowerBound ? "≥ " : ""}×${fmt(value, 2)}`;
  };
  for (const [scenario, label] of [
    ["alone", "alone"],
    ["slow", `A slow (${SLOW_MS / 1000} s)`],
    ["hang", "A timing out"],
  ]) {
    console.log(
      `${label.padEnd(20)} ${bound(ours[scenario], "p50").padStart(9)} ${bound(ours[scenario], "p99").padStart(12)}` +
        ` ${ratio(ours, scenario).padStart(9)} ${bound(baseline[scenario], "p50").padStart(14)}` +
        ` ${bound(baseline[scenario], "p99").padStart(14)} ${ratio(baseline, scenario).padStart(9)}`,
    );
  }
  const missing = (results) =>
    ["alone", "slow", "hang"].map((s) => `${results[s].missing} of ${results[s].events}`).join(", ");
  console.log(
    `(≥: B's events not arrived ${plan.waitSeconds} s after its last publish count as the time waited, a lower ` +
      `bound; not arrived, alone / A slow / A timing out: ours ${missing(ours)}; baseline ${missing(baseline)})`,
  );
}

export function printPublish(publish, publishes) {
  console.log(`\nPublish latency (${publishes} publishes, one at a time, ms)`);
  for (const [endpoints, { p50, p99 }] of Object.entries(publish)) {
    console.log(
      `${`${endpoints} endpoint(s)`.padEnd(18)} p50 ${fmt(p50).padStart(7)}   p99 ${fmt(p99).padStart(7)}`,
    );
  }
}

/**
 * Where each side's CPU went over the profiled burst: the workerd processes' CPU per delivery (what the
 * throughput ratio comes from), the Worker isolate's sampled time per delivery (samples count time the
 * isolate was busy, on or off a core, so they are shares, not CPU), and each part's share of it (the
 * parts above 3% on either side).
 */
export function printProfile({ events, ours, baseline }) {
  console.log(
    `\nWhere the CPU goes: ${events} events × 1 endpoint (CPU profile of each Worker isolate, sampled every 0.5 ms)`,
  );
  const total = (side) => side.parts.reduce((sum, p) => sum + p.ms, 0);
  const share = (side, part) => (side.parts.find((p) => p.part === part)?.ms ?? 0) / total(side);
  const shown = [...new Set([...ours.parts, ...baseline.parts].map((p) => p.part))].filter(
    (part) => share(ours, part) >= 0.03 || share(baseline, part) >= 0.03,
  );
  const row = (label, a, b) => console.log(`${label.padEnd(44)}${a.padStart(10)}${b.padStart(12)}`);
  const perDelivery = (side, ms) => fmt(ms / side.result.deliveries, 2);
  row("", "ours", "baseline");
  row(
    "workerd CPU, ms per delivery",
    perDelivery(ours, ours.workerdMs),
    perDelivery(baseline, baseline.workerdMs),
  );
  row(
    "Worker isolate busy, ms per delivery",
    perDelivery(ours, total(ours)),
    perDelivery(baseline, total(baseline)),
  );
  const pct = (side, part) => `${(100 * share(side, part)).toFixed(1)}%`;
  for (const part of shown.sort((a, b) => share(ours, b) - share(ours, a))) {
    row(`  ${part}`, pct(ours, part), pct(baseline, part));
  }
  const rest = (side) =>
    `${(100 * (1 - shown.reduce((sum, part) => sum + share(side, part), 0))).toFixed(1)}%`;
  row("  the rest", rest(ours), rest(baseline));
}

/** The operations' cost table; returns each row's total $ per million (null: no data). */
export function printCost(rows) {
  console.log(
    `\nCost per million delivered events (Workers Paid prices of ${PRICES_AS_OF}, bench/prices.mjs; every quantity ` +
      "counted in the metered run, CPU from the others)",
  );
  console.log(
    `item                        ${rows.map((r) => `per delivery, fan-out ${r.fanOut}`.padStart(26) + "$/M".padStart(8)).join("")}`,
  );
  for (const item of Object.keys(PRICES_PER_MILLION)) {
    const cells = rows.map(
      (r) => `${fmt(r.usage?.[item], 3).padStart(26)}${fmt(r.cost?.items[item], 3).padStart(8)}`,
    );
    console.log(`${item.padEnd(28)}${cells.join("")}`);
  }
  console.log(
    `${"total".padEnd(28)}${rows.map((r) => `${"".padStart(26)}${fmt(r.cost?.total, 3).padStart(8)}`).join("")}`,
  );
  console.log(
    "(CPU is the local runtime's, D1/Queues/DO simulation included: an upper bound. Baseline CPU per delivery: " +
      rows.map((r) => `${fmt(r.baselineCpuMs / r.baselineDeliveries)} ms at fan-out ${r.fanOut}`).join(", ") +
      `; metered: ${rows.map((r) => `${r.meteredLines} invocation and call lines at fan-out ${r.fanOut}`).join(", ")})`,
  );
}

export function printD1(rows) {
  const d1Names = rows[0].d1.databases.join(", ");
  console.log(`\nD1 per delivered event (the metered run; events and deliveries in ${d1Names})`);
  console.log(`${"".padEnd(44)}${rows.map((r) => `fan-out ${r.fanOut}`.padStart(14)).join("")}`);
  const d1Line = (label, cell) =>
    console.log(`${label.padEnd(44)}${rows.map((r) => cell(r.d1).padStart(14)).join("")}`);
  d1Line("bytes stored (growth of D1's size_after)", (d) => fmt(d.bytes, 0));
  d1Line("statements (of which wrote rows)", (d) => `${fmt(d.statements, 2)} (${fmt(d.writeStatements, 2)})`);
  d1Line("rows written by retention (week drops)", (d) => fmt(d.removalRowsWritten, 2));
  console.log(
    `(bytes over ${rows.map((r) => r.d1.deliveryRows).join(" and ")} delivery rows written; ` +
      `retention removed ${rows.map((r) => r.d1.removedDeliveries).join(" and ")} deliveries, warm-up included)`,
  );
  for (const r of rows) {
    console.log(
      `\nD1 per shard, ${r.events} events × ${r.fanOut} metered (organization on DB_SHARD_${r.shards.metered}):` +
        " after the load, and its growth",
    );
    for (const line of shardTable(r.storage.after, r.storage.before)) console.log(line);
  }
  console.log(
    "(DB_SHARD_0 is the primary database: its bytes include the control plane. Each run's organization, " +
      "by shard, rounds then metered: " +
      rows
        .map((r) => `${[...r.shards.rounds, r.shards.metered].join(", ")} at fan-out ${r.fanOut}`)
        .join("; ") +
      ")",
  );
}

/** The whole-life table; returns each row's whole-life $ per million (null: no data). */
export function printWholeLife(rows) {
  const retentionDays = rows[0].d1.retentionDays;
  console.log(
    `\nWhole-life cost per million delivered events (RETENTION_DAYS ${retentionDays}; D1 storage ` +
      `$${D1_STORAGE_PER_GB_MONTH}/GB-month as of ${STORAGE_PRICES_AS_OF}, bench/prices.mjs)`,
  );
  console.log(
    `${"item".padEnd(44)}${rows.map((r) => `${`fan-out ${r.fanOut}`.padStart(15)} ${"$/M".padStart(9)}`).join("")}`,
  );
  const line = (label, quantity, cost) =>
    console.log(
      `${label.padEnd(44)}${rows.map((r) => `${quantity(r).padStart(15)} ${fmt(cost(r), 3).padStart(9)}`).join("")}`,
    );
  line(
    "operations (the total above)",
    () => "",
    (r) => r.cost?.total,
  );
  line(
    `storage: bytes × ${rows[0].d1.keptDays} days kept`,
    (r) => `${fmt(r.d1.bytes, 0)} B`,
    (r) => r.life.storage,
  );
  line(
    "removal: retention's rows written (+ read)",
    (r) => fmt(r.d1.removalRowsWritten, 2),
    (r) => r.life.removal,
  );
  line(
    "whole life",
    () => "",
    (r) => r.wholeLife,
  );
}

/** "yes" or "NO" and the violations of a lane order check (measure.mjs orderKept); "-": not checked. */
function orderCell(order) {
  if (!order) return "-";
  const unread = order.unread > 0 ? `, ${order.unread} unread` : "";
  const kept = order.violations === 0 && order.unread === 0 ? "yes" : "NO";
  return `${kept} (${order.violations} violations${unread})`;
}

/** The ordered part's loads (bench.mjs orderedLoad), the first unordered: what the others are compared with. */
export function printOrdered(loads) {
  const [unordered] = loads;
  console.log(
    "\nOrdered delivery (fan-out 1, ours only: the baseline has no ordering. Throughput: deliveries/s, each",
  );
  console.log("event's first arrival; publish→arrival latency in ms)");
  console.log(
    "load                  events   accepted/s   deliveries/s   ×unordered   p50 ms   p99 ms   order kept               $/M   ×unordered",
  );
  for (const load of loads) {
    const { run, cost } = load;
    console.log(
      `${load.label.padEnd(20)} ${String(load.events).padStart(7)} ${fmt(run.acceptedPerSecond).padStart(12)}` +
        ` ${fmt(run.perSecond).padStart(14)} ${fmt(run.perSecond / unordered.run.perSecond, 2).padStart(12)}` +
        ` ${fmt(run.p50).padStart(8)} ${fmt(run.p99).padStart(8)}   ${orderCell(load.order).padEnd(20)}` +
        ` ${fmt(cost?.total, 3).padStart(7)} ${fmt(cost?.total / unordered.cost?.total, 2).padStart(12)}`,
    );
  }
  const checks = loads
    .filter((l) => l.order)
    .map(
      (l) =>
        `${l.label}: ${l.order.checked} deliveries in ${l.order.lanes} lane(s), ` +
        `${fmt(100 * l.order.orderedPairs, 0)}% of same-lane pairs fixed by the publishes`,
    );
  console.log(
    "(one run of each load after a warm-up of 5%, every load published as the burst's, 16 at a time, event i " +
      "with ordering key i mod lanes; accepted/s: events over the time until the last publish was answered. " +
      "Order kept: in the measured and the metered run, no delivery arrived before one of its lane whose " +
      "publish was answered before its own was sent (that one was accepted first; publishes in flight " +
      `together may be accepted either way): ${checks.join("; ")}. Requests beyond a delivery's first: ` +
      `${loads.map((l) => `${l.run.duplicates} ${l.label}`).join(", ")}. $/M: the table below)`,
  );
}

/** What each load's deliveries cost, by item, beside unordered's; and what is not counted. */
export function printOrderedCost(loads) {
  const [unordered] = loads;
  console.log(
    `\nOrdered delivery's cost per million delivered events (Workers Paid prices of ${PRICES_AS_OF}, ` +
      "bench/prices.mjs; counted in each load's metered run, CPU from its measured run)",
  );
  const head = loads.map((l) => `${l.label.padStart(22)}${"$/M".padStart(8)}`).join("");
  console.log(`${"item, per delivery".padEnd(32)}${head}`);
  const line = (label, cell) => console.log(`${label.padEnd(32)}${loads.map(cell).join("")}`);
  for (const item of Object.keys(PRICES_PER_MILLION)) {
    line(item, (l) => `${fmt(l.usage?.[item], 3).padStart(22)}${fmt(l.cost?.items[item], 3).padStart(8)}`);
  }
  line(
    "loopbackInvocations",
    (l) => `${fmt(l.usage?.loopbackInvocations, 3).padStart(22)}${fmt(l.cost?.loopback, 3).padStart(8)}`,
  );
  line("total", (l) => `${"".padStart(22)}${fmt(l.cost?.total, 3).padStart(8)}`);
  line(
    "× unordered",
    (l) => `${"".padStart(22)}${fmt(l.cost?.total / unordered.cost?.total, 2).padStart(8)}`,
  );
  line(
    "D1 statements (wrote rows)",
    (l) =>
      `${`${fmt(l.d1?.statements, 2)} (${fmt(l.d1?.writeStatements, 2)})`.padStart(22)}${"".padStart(8)}`,
  );
  const methods = [...new Set(loads.flatMap((l) => Object.keys(l.doRequests ?? {})))].sort();
  for (const method of methods) {
    line(
      `  DO requests: ${method}`,
      (l) => `${fmt(l.doRequests?.[method] ?? 0, 3).padStart(22)}${"".padStart(8)}`,
    );
  }
  console.log(
    "(DO requests by method: the object's own lines, one per call or alarm, per delivery. Counted: D1 rows " +
      "from each statement's meta (the delivery row written pending at fan-out and then updated, the " +
      "event_sequences counter of each publish); Durable Object calls on every stub (fan-out's enqueueOrdered, " +
      "each run's reportOrdered) and alarms; rows the object's storage wrote (key-value puts and deletes, " +
      "setAlarm, and each SQL statement's rowsWritten: the lanes, their meta row, table creation); loopbackInvocations, the lanes' calls into the " +
      "Worker's OrderedDelivery entrypoint, and what those runs did. CPU is the local runtime's, an upper bound. " +
      `Loopback invocations are priced $${LOOPBACK_INVOCATIONS_PER_MILLION}/M as service binding calls ` +
      "(bench/prices.mjs); estimated at the Worker request price instead, they would add " +
      `${loads.map((l) => `$${fmt(l.cost?.loopbackIfBilled, 3)}/M to ${l.label}`).join(", ")}. ` +
      "No data: Durable Object duration (GB-s, billed while an object is active, which its lanes make it more " +
      `often) and Durable Object rows read are not counted, here or in the burst. Metered: ${loads
        .map((l) => `${l.meteredLines} lines for ${l.label}`)
        .join(", ")})`,
  );
}

/**
 * A target's line: `value` (null or not finite: "no data"), shown with `show`, met when `ok(value)`.
 * With `lowerBound` the value is only known to be at least that (some deliveries never came): never met.
 */
function target(label, value, ok, show, { lowerBound = false, note = "" } = {}) {
  if (!known(value)) {
    console.log(`${label}: no data${note ? ` (${note})` : ""}`);
    return;
  }
  const verdict = ok(value) && !lowerBound ? "met" : "NOT met";
  console.log(`${label}: ${lowerBound ? "≥ " : ""}${show(value)}${note ? ` (${note})` : ""}, ${verdict}`);
}

/** The ordered part's line among the targets: information, not a target, so "reported", never "met". */
function orderedLine(ordered, notRun) {
  const key = ordered?.find((l) => l.ordering === "key");
  const unordered = ordered?.find((l) => l.ordering === "none");
  const label = `ordered (key, ${key ? `${key.lanes} lanes` : "K lanes"}) throughput reported next to unordered`;
  const ratio = key && unordered ? key.run.perSecond / unordered.run.perSecond : null;
  if (!known(ratio)) {
    console.log(`${label}: no data (${ordered ? "nothing delivered" : notRun("ordered")})`);
    return;
  }
  console.log(
    `${label}: ×${ratio.toFixed(2)} (${fmt(key.run.perSecond)}/s against ${fmt(unordered.run.perSecond)}/s; ` +
      `order kept: ${orderCell(key.order)}), reported`,
  );
}

export function printTargets({ rows, steady, neighbour, publish, ordered, notRun }) {
  console.log("\nTargets");
  for (const fanOut of [1, 10]) {
    const r = rows?.find((row) => row.fanOut === fanOut);
    target(
      `throughput ≥ 0.8 × the baseline's at fan-out ${fanOut}, mean of the rounds' ratios`,
      r?.mean.ratio,
      (v) => v >= 0.8,
      (v) => v.toFixed(2),
      { note: r ? `rounds ${r.rounds.map((round) => fmt(round.ratio, 2)).join(", ")}` : notRun("burst") },
    );
  }
  const steadyNote = steady ? "" : notRun("steady");
  target(
    "steady load: p50 ≤ 1.5 × the baseline's",
    steady ? steady.ours.p50 / steady.baseline.p50 : null,
    (v) => v <= 1.5,
    (v) => `×${v.toFixed(2)}`,
    { note: steadyNote },
  );
  target(
    "steady load: p99 ≤ 2 × the baseline's",
    steady ? steady.ours.p99 / steady.baseline.p99 : null,
    (v) => v <= 2,
    (v) => `×${v.toFixed(2)}`,
    { note: steadyNote },
  );
  for (const [scenario, label] of [
    ["slow", `A's receiver taking ${SLOW_MS / 1000} s`],
    ["hang", "A's attempts timing out"],
  ]) {
    const ratio = neighbour ? neighbourRatio(neighbour.ours, scenario) : { value: null };
    target(
      `noisy neighbour: B's p99 with ${label} ≤ 2 × B's alone`,
      ratio.value,
      (v) => v <= 2,
      (v) => `×${v.toFixed(2)}`,
      { lowerBound: ratio.lowerBound, note: neighbour ? "" : notRun("neighbour") },
    );
  }
  target(
    "publish p99 at 1,000 endpoints ≤ 2 × at 1",
    publish ? publish[1000].p99 / publish[1].p99 : null,
    (v) => v <= 2,
    (v) => `×${v.toFixed(2)}`,
    { note: publish ? "" : notRun("publish") },
  );
  const first = rows?.find((row) => row.fanOut === 1);
  target(
    "D1 rows written per delivered event at fan-out 1 ≤ 4",
    first?.usage?.d1RowsWritten,
    (v) => v <= 4,
    (v) => v.toFixed(2),
    { note: rows ? (first?.usage ? "" : "no operations lines captured") : notRun("burst") },
  );
  const most = (kind) => {
    const values = (rows ?? []).map((r) => r.doCalls[kind]).filter(known);
    return values.length > 0 ? Math.max(...values) : null;
  };
  // A rate-limited endpoint's object is asked for permits before the attempts and told their outcomes
  // after: two calls, the fewest that keep both (docs/performance.md#method).
  for (const [kind, label, limit] of [
    ["unlimited", "endpoints without a rate limit", 1],
    ["limited", "endpoints with a rateLimitPerSecond (permits, then outcomes)", 2],
  ]) {
    target(
      `Durable Object calls per endpoint per delivery batch ≤ ${limit}, ${label}`,
      most(kind),
      (v) => v <= limit,
      (v) => `at most ${v}`,
      { note: rows ? "" : notRun("burst") },
    );
  }
  target(
    `whole-life cost per million at fan-out 1 ≤ $${COST_BEFORE_ISSUE_16} (the latest run before issue 16)`,
    first?.wholeLife,
    (v) => v <= COST_BEFORE_ISSUE_16,
    (v) => `$${v.toFixed(2)}`,
    { note: rows ? "" : notRun("burst") },
  );
  orderedLine(ordered, notRun);
}
