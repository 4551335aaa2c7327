#!/usr/bin/env node
import { readFileSync } from "node:fs";
// `npm run bench [-- --events 5000 --fanout-events 500 --publishes 50]`: how fast deliveries go, measured
// against the runtime's own limit. On this machine, with `wrangler dev` (local D1, Queues, DO) and a
// receiver on 127.0.0.1 that answers 200 at once, it measures
//   1. delivery throughput and publish→arrival latency: N events to 1 endpoint, M events to 10;
//   2. the same load through bench/baseline (a consumer that only POSTs a precomputed signed body),
//      and our throughput as a ratio of it;
//   3. publish latency with 1, 100 and 1,000 matching endpoints (publishing must not grow with fan-out);
//   4. the cost per million delivered events at the prices of bench/prices.mjs, from the operations
//      counted by bench/metered (the service wrapped in bindings that count D1 rows from query meta,
//      queue operations and Durable Object calls) and the CPU time of the local runtime;
//   5. what a delivery costs over its whole life: the D1 bytes each delivered event leaves (the growth
//      of the databases' size over the metered load), kept as long as retention keeps it on average
//      (RETENTION_DAYS and half a week) at D1's storage price, and its removal, from the rows written
//      by retention itself (weekly tables dropped whole) run on the load's data with the clock far
//      ahead (bench/metered/storage.ts); and the D1 statements per delivery. For each metered
//      load, a table of the data-plane shards (DB_SHARD_0, …): events and deliveries rows and bytes
//      after the load, and their growth during it; and the shard each run's organization landed on
//      (drawn by SHARD_WEIGHTS, as for any new organization).
// Counting costs CPU (a log line per invocation, about 15% more per delivery here), so throughput,
// latency and CPU come from runs of the service as deployed, and the operations from a separate run of
// the same load through bench/metered. Each load starts with an unmeasured warm-up of 5% of it, on both
// sides. Ours and the baseline are measured in turn, `--rounds` times each, the baseline first in every
// other round, so a machine that slows down or speeds up during the run weighs on both alike.
// Loopback only; stops by itself.
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import {
  D1_STORAGE_PER_GB_MONTH,
  PRICES_AS_OF,
  PRICES_PER_MILLION,
  STORAGE_PRICES_AS_OF,
} from "../bench/prices.mjs";
import {
  api,
  freePort,
  organizationWithKey,
  pool,
  shardTable,
  startBaseline,
  startLocalService,
  workerdCpu,
  workerdCpuSince,
} from "./local-stack.mjs";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "5000" },
    "fanout-events": { type: "string", default: "500" },
    publishes: { type: "string", default: "50" },
    rounds: { type: "string", default: "2" },
  },
});
const WAIT_LIMIT_MS = 15 * 60_000;

// The receiver: 200 at once; keeps, per request, when it arrived and when its event was published
// (the baseline's x-published-at header, or our envelope's occurred_at, set at publish time).
let arrivals = [];
const receiverPort = await freePort();
const receiver = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const arrivedAt = Date.now();
    const header = req.headers["x-published-at"];
    const publishedAt = header ? Number(header) : Date.parse(JSON.parse(Buffer.concat(chunks)).occurred_at);
    arrivals.push({ arrivedAt, publishedAt });
    res.writeHead(200).end();
  });
});
await new Promise((resolve) => receiver.listen(receiverPort, "127.0.0.1", resolve));
const endpointUrl = (name) => `http://127.0.0.1:${receiverPort}/${name}`;

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function waitForArrivals(count) {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (arrivals.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  if (arrivals.length < count) throw new Error(`only ${arrivals.length} of ${count} deliveries arrived`);
}

/**
 * Not measured: 5% of the load first, on both sides, so that the isolate's start, compilation and
 * first queries are not counted against a sustained load.
 */
async function warmUp(events, fanOut, publish) {
  const count = Math.ceil(events / 20);
  arrivals = [];
  await pool(count, 16, (i) => publish(events + i));
  await waitForArrivals(count * fanOut);
  await new Promise((r) => setTimeout(r, 1_000)); // the consumer runs end after their last request
}

/** Publishes `events` with `publish(i)` (16 at a time) and measures the deliveries' arrival. */
async function measureDeliveries(events, fanOut, publish) {
  arrivals = [];
  const started = Date.now();
  const cpuBefore = workerdCpu();
  await pool(events, 16, publish);
  await waitForArrivals(events * fanOut);
  const cpuMs = workerdCpuSince(cpuBefore);
  return {
    deliveries: arrivals.length,
    elapsedMs: Math.max(...arrivals.map((a) => a.arrivedAt)) - started,
    latencies: arrivals.map((a) => a.arrivedAt - a.publishedAt),
    cpuMs,
  };
}

/** The rounds of one side taken together: throughput over their summed time, latencies pooled. */
function combined(rounds) {
  const total = (key) => rounds.reduce((sum, round) => sum + round[key], 0);
  const latencies = rounds.flatMap((round) => round.latencies).sort((x, y) => x - y);
  return {
    deliveries: total("deliveries"),
    perSecond: total("deliveries") / (total("elapsedMs") / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuMs: total("cpuMs"),
  };
}

/**
 * The JSON lines the service logged from `offset` on in its log file, read once the last invocations
 * have had time to finish: `operations` (bench/metered, one per invocation) and `logged`, the
 * Worker's own lines (each a billed log event in production).
 */
async function linesSince(logFile, offset) {
  await new Promise((r) => setTimeout(r, 3_000));
  const lines = readFileSync(logFile, "utf8")
    .slice(offset)
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line));
  return {
    operations: lines.filter((line) => line.message === "operations"),
    logged: lines.filter((line) => line.message !== "operations").length,
  };
}

const sum = (lines, key) => lines.reduce((total, line) => total + (line[key] ?? 0), 0);

/**
 * Billable operations per delivered event, from the counted operations of a metered run and the CPU of
 * the unmetered one.
 */
function usagePerDelivery(metered, measured) {
  const { operations: lines, logged } = metered.lines;
  const per = (n) => n / metered.deliveries;
  const queueWrites = sum(lines, "queueWriteOperations");
  const doCalls = sum(lines, "durableObjectCalls");
  return {
    workerRequests: per(lines.length),
    workerCpuMs: measured.cpuMs / measured.deliveries,
    // The Worker's own lines and the invocation log of each request.
    workersLogsEvents: per(logged + lines.length),
    d1RowsRead: per(sum(lines, "d1RowsRead")),
    d1RowsWritten: per(sum(lines, "d1RowsWritten")),
    // Each message is written, read once and deleted (no retries in this load).
    queueOperations: per(3 * queueWrites),
    durableObjectRequests: per(doCalls),
    // The health object writes at most its one state row per call.
    durableObjectRowsWritten: per(doCalls),
    analyticsEngineDataPoints: 1,
  };
}

/** The most calls any consumer batch made to one Durable Object (one per endpoint: at most 1). */
function durableObjectCallsPerEndpointBatch(lines) {
  const batches = lines.filter((l) => l.invocation === "queue" && l.durableObjects > 0);
  return Math.max(0, ...batches.map((l) => l.durableObjectCalls / l.durableObjects));
}

/** Each D1 database of the metered service (bench/metered/storage.ts): size in bytes, events, deliveries. */
async function d1Sizes(base) {
  const response = await fetch(`${base}/__bench/d1`);
  if (!response.ok) throw new Error(`/__bench/d1: ${response.status}`);
  return (await response.json()).databases;
}

/**
 * The databases that hold events and deliveries: the shards (`DB_SHARD_0`, …) when the service has any
 * (shard 0 is the primary database itself, so `DB` is not counted twice), else `DB`.
 */
function dataPlane(databases) {
  const shards = Object.keys(databases).filter((name) => /^DB_SHARD_\d+$/.test(name));
  return shards.length > 0 ? shards : ["DB"];
}

/**
 * Retention as a cron run makes it, with the clock ten years ahead: it removes all the load wrote, and
 * the operations of its deletes are what removing that history costs.
 */
async function retentionFarAhead(base) {
  const now = Date.now() + 10 * 365 * 86_400_000;
  const response = await fetch(`${base}/__bench/retention?now=${now}`, { method: "POST" });
  if (!response.ok) throw new Error(`/__bench/retention: ${response.status}`);
  return response.json();
}

/**
 * D1 per delivered event, from a metered run: the statements its invocations ran; the bytes the load
 * added to the data-plane databases per delivery row it added; and the rows retention's deletes
 * wrote (and read) per delivery they removed, an event's share included.
 */
function d1PerDelivery(metered) {
  const { operations: lines } = metered.lines;
  const { before, after, retention } = metered.storage;
  const databases = dataPlane(after);
  const total = (sizes, key) => databases.reduce((sum, name) => sum + (sizes[name]?.[key] ?? 0), 0);
  const deliveryRows = total(after, "deliveries") - total(before, "deliveries");
  const removed = retention.removed.deliveries;
  return {
    databases,
    statements: sum(lines, "d1Queries") / metered.deliveries,
    writeStatements: sum(lines, "d1WriteQueries") / metered.deliveries,
    bytes: (total(after, "sizeBytes") - total(before, "sizeBytes")) / deliveryRows,
    deliveryRows,
    retentionDays: retention.retentionDays,
    keptDays: retention.keptDays,
    removedDeliveries: removed,
    removalRowsWritten: retention.operations.d1RowsWritten / removed,
    removalRowsRead: retention.operations.d1RowsRead / removed,
  };
}

/**
 * Whole-life cost per million deliveries besides the operations: storage of the bytes for as long as
 * retention keeps them on average (`keptDays`: RETENTION_DAYS and half a week, weeks being dropped
 * whole; GB of 10^9 bytes, months of 30 days) and removal by retention.
 */
function lifeCostPerMillion(d1) {
  const gbMonths = ((d1.bytes * 1e6) / 1e9) * (d1.keptDays / 30);
  return {
    storage: gbMonths * D1_STORAGE_PER_GB_MONTH,
    removal:
      d1.removalRowsWritten * PRICES_PER_MILLION.d1RowsWritten +
      d1.removalRowsRead * PRICES_PER_MILLION.d1RowsRead,
  };
}

/**
 * Our service: an organization with `fanOut` endpoints, `events` published through the API. With
 * `meter`, run through bench/metered, also what the invocations logged they did, the D1 databases'
 * sizes before and after the load, and what retention's removal of it all cost.
 */
async function ours(events, fanOut, { meter }) {
  const service = await startLocalService({}, { metered: meter });
  try {
    const { base, adminToken } = service;
    const { organization, token } = await organizationWithKey(service, "bench");
    const { shard } = organization;
    for (let i = 0; i < fanOut; i++) {
      await api(base, token, "POST", "/webhooks/v1/endpoints", {
        url: endpointUrl(`ours-${i}`),
        eventTypeFilters: ["matter.*"],
      });
    }
    const publish = (i) =>
      api(base, adminToken, "POST", "/webhooks/v1/events", {
        organizationId: organization.id,
        type: "matter.created",
        data: { matterId: `matter_${i}`, name: `Bench ${i}` },
      });
    await warmUp(events, fanOut, publish);
    const logOffset = readFileSync(service.logFile, "utf8").length;
    const before = meter ? await d1Sizes(base) : null;
    const measured = await measureDeliveries(events, fanOut, publish);
    if (!meter) return { ...measured, shard };
    const lines = await linesSince(service.logFile, logOffset);
    const after = await d1Sizes(base);
    return {
      ...measured,
      shard,
      lines,
      storage: { before, after, retention: await retentionFarAhead(base) },
    };
  } finally {
    await service.stop();
  }
}

/** The baseline: the same events, one message per endpoint, a precomputed body and signature. */
async function baseline(events, fanOut) {
  const worker = await startBaseline();
  try {
    const urls = Array.from({ length: fanOut }, (_, i) => endpointUrl(`baseline-${i}`));
    const body = JSON.stringify({
      id: "evt_bench",
      type: "matter.created",
      data: { matterId: "m", name: "n" },
    });
    const signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const publish = async () => {
      const response = await fetch(`${worker.base}/publish`, {
        method: "POST",
        body: JSON.stringify({ urls, body, signature }),
      });
      if (response.status !== 202) throw new Error(`baseline publish: ${response.status}`);
    };
    await warmUp(events, fanOut, publish);
    return await measureDeliveries(events, fanOut, publish);
  } finally {
    await worker.stop();
  }
}

/** Publish latency, one request at a time, for an organization with `endpoints` matching endpoints. */
async function publishLatency(endpoints, publishes) {
  const service = await startLocalService({});
  try {
    const { base, adminToken } = service;
    const { organization, token } = await organizationWithKey(service, "bench");
    await pool(endpoints, 8, (i) =>
      api(base, token, "POST", "/webhooks/v1/endpoints", {
        url: endpointUrl(`fan-${i}`),
        eventTypeFilters: ["*"],
      }),
    );
    const durations = [];
    for (let i = 0; i < publishes; i++) {
      const started = performance.now();
      await api(base, adminToken, "POST", "/webhooks/v1/events", {
        organizationId: organization.id,
        type: "matter.created",
        data: { matterId: `m${i}`, name: "n" },
      });
      durations.push(performance.now() - started);
    }
    durations.sort((x, y) => x - y);
    return { p50: percentile(durations, 50), p99: percentile(durations, 99) };
  } finally {
    await service.stop();
  }
}

const EVENTS = Number(values.events);
const FANOUT_EVENTS = Number(values["fanout-events"]);
const PUBLISHES = Number(values.publishes);
const ROUNDS = Number(values.rounds);
const rows = [];
const fmt = (n) => (Number.isFinite(n) ? n.toFixed(1) : "-");
try {
  for (const [events, fanOut] of [
    [EVENTS, 1],
    [FANOUT_EVENTS, 10],
  ]) {
    const oursRounds = [];
    const baselineRounds = [];
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`measuring ${events} events × ${fanOut} endpoint(s), round ${round} of ${ROUNDS}…`);
      const turns = [
        async () => oursRounds.push(await ours(events, fanOut, { meter: false })),
        async () => baselineRounds.push(await baseline(events, fanOut)),
      ];
      if (round % 2 === 0) turns.reverse();
      for (const turn of turns) await turn();
    }
    const measured = combined(oursRounds);
    const limit = combined(baselineRounds);
    console.log(`counting the operations of ${events} events × ${fanOut} endpoint(s)…`);
    const metered = await ours(events, fanOut, { meter: true });
    const mine = {
      ...measured,
      usage: usagePerDelivery(metered, measured),
      doCallsPerEndpointBatch: durableObjectCallsPerEndpointBatch(metered.lines.operations),
      d1: d1PerDelivery(metered),
    };
    const rate = (round) => round.deliveries / round.elapsedMs;
    const roundRatios = oursRounds.map((round, i) => rate(round) / rate(baselineRounds[i]));
    rows.push({
      events,
      fanOut,
      mine,
      limit,
      ratio: mine.perSecond / limit.perSecond,
      roundRatios,
      shards: { rounds: oursRounds.map((round) => round.shard), metered: metered.shard },
      storage: metered.storage,
    });
  }
  console.log("measuring publish latency with 1, 100 and 1,000 endpoints…");
  const publish = {};
  for (const endpoints of [1, 100, 1000]) publish[endpoints] = await publishLatency(endpoints, PUBLISHES);

  console.log("\nDeliveries (throughput in deliveries/s; publish→arrival latency in ms)");
  console.log(
    "load                      ours/s   baseline/s   ratio   ours p50   ours p99   baseline p50   baseline p99",
  );
  for (const r of rows) {
    const load = `${r.events} events × ${r.fanOut}`.padEnd(24);
    console.log(
      `${load} ${fmt(r.mine.perSecond).padStart(7)} ${fmt(r.limit.perSecond).padStart(12)} ${r.ratio.toFixed(2).padStart(7)}` +
        ` ${fmt(r.mine.p50).padStart(10)} ${fmt(r.mine.p99).padStart(10)} ${fmt(r.limit.p50).padStart(14)} ${fmt(r.limit.p99).padStart(14)}`,
    );
  }
  console.log(
    `(${ROUNDS} round(s) of each; ratio by round: ` +
      rows
        .map((r) => `${r.roundRatios.map((x) => x.toFixed(2)).join(", ")} at fan-out ${r.fanOut}`)
        .join("; ") +
      ")",
  );
  console.log(`\nPublish latency (${PUBLISHES} publishes, one at a time, ms)`);
  for (const [endpoints, { p50, p99 }] of Object.entries(publish)) {
    console.log(
      `${`${endpoints} endpoint(s)`.padEnd(18)} p50 ${fmt(p50).padStart(7)}   p99 ${fmt(p99).padStart(7)}`,
    );
  }

  console.log(
    `\nCost per million delivered events (Workers Paid prices of ${PRICES_AS_OF}, bench/prices.mjs)`,
  );
  console.log("item                          per delivery, fan-out 1   $/M   per delivery, fan-out 10   $/M");
  const costs = rows.map((r) =>
    Object.fromEntries(
      Object.entries(r.mine.usage).map(([item, quantity]) => [item, quantity * PRICES_PER_MILLION[item]]),
    ),
  );
  for (const item of Object.keys(PRICES_PER_MILLION)) {
    const cells = rows.map(
      (r, i) => `${r.mine.usage[item].toFixed(3).padStart(22)} ${costs[i][item].toFixed(3).padStart(7)}`,
    );
    console.log(`${item.padEnd(28)}${cells.join("   ")}`);
  }
  const totals = costs.map((c) => Object.values(c).reduce((a, b) => a + b, 0));
  console.log(
    `${"total".padEnd(28)}${totals.map((t) => `${"".padStart(22)} ${t.toFixed(3).padStart(7)}`).join("   ")}`,
  );
  console.log(
    "(CPU is the local runtime's, D1/Queues/DO simulation included: an upper bound. Baseline CPU per delivery: " +
      rows.map((r) => `${fmt(r.limit.cpuMs / r.limit.deliveries)} ms at fan-out ${r.fanOut}`).join(", ") +
      ".)",
  );

  const d1Names = rows[0].mine.d1.databases.join(", ");
  console.log(`\nD1 per delivered event (the metered run; events and deliveries in ${d1Names})`);
  console.log(`${"".padEnd(44)}${rows.map((r) => `fan-out ${r.fanOut}`.padStart(14)).join("")}`);
  const d1Line = (label, cell) =>
    console.log(`${label.padEnd(44)}${rows.map((r) => cell(r.mine.d1).padStart(14)).join("")}`);
  d1Line("bytes stored (growth of D1's size_after)", (d) => d.bytes.toFixed(0));
  d1Line(
    "statements (of which wrote rows)",
    (d) => `${d.statements.toFixed(2)} (${d.writeStatements.toFixed(2)})`,
  );
  d1Line("rows written by retention (week drops)", (d) => d.removalRowsWritten.toFixed(2));
  console.log(
    `(bytes over ${rows.map((r) => r.mine.d1.deliveryRows).join(" and ")} delivery rows written; ` +
      `retention removed ${rows.map((r) => r.mine.d1.removedDeliveries).join(" and ")} deliveries, warm-up included)`,
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

  const retentionDays = rows[0].mine.d1.retentionDays;
  console.log(
    `\nWhole-life cost per million delivered events (RETENTION_DAYS ${retentionDays}; D1 storage ` +
      `$${D1_STORAGE_PER_GB_MONTH}/GB-month as of ${STORAGE_PRICES_AS_OF}, bench/prices.mjs)`,
  );
  console.log(
    `${"item".padEnd(44)}${rows.map((r) => `${`fan-out ${r.fanOut}`.padStart(15)} ${"$/M".padStart(9)}`).join("")}`,
  );
  const life = rows.map((r) => lifeCostPerMillion(r.mine.d1));
  const lifeLine = (label, quantity, cost) =>
    console.log(
      `${label.padEnd(44)}${rows.map((r, i) => `${quantity(r, i).padStart(15)} ${cost(i).toFixed(3).padStart(9)}`).join("")}`,
    );
  lifeLine(
    "operations (the total above)",
    () => "",
    (i) => totals[i],
  );
  lifeLine(
    `storage: bytes × ${rows[0].mine.d1.keptDays} days kept`,
    (r) => `${r.mine.d1.bytes.toFixed(0)} B`,
    (i) => life[i].storage,
  );
  lifeLine(
    "removal: retention's rows written (+ read)",
    (r) => r.mine.d1.removalRowsWritten.toFixed(2),
    (i) => life[i].removal,
  );
  const wholeLife = totals.map((t, i) => t + life[i].storage + life[i].removal);
  lifeLine(
    "whole life",
    () => "",
    (i) => wholeLife[i],
  );

  const met = (ok) => (ok ? "met" : "NOT met");
  console.log("\nTargets");
  for (const r of rows)
    console.log(
      `throughput ratio ≥ 0.5 at fan-out ${r.fanOut}: ${r.ratio.toFixed(2)}, ${met(r.ratio >= 0.5)}`,
    );
  const growth = publish[1000].p99 / publish[1].p99;
  console.log(`publish p99 at 1,000 endpoints ≤ 2 × at 1: ×${growth.toFixed(2)}, ${met(growth <= 2)}`);
  const rowsWritten = rows[0].mine.usage.d1RowsWritten;
  console.log(
    `D1 rows written per delivered event at fan-out 1 ≤ 4: ${rowsWritten.toFixed(2)}, ${met(rowsWritten <= 4)}`,
  );
  const doCalls = Math.max(...rows.map((r) => r.mine.doCallsPerEndpointBatch));
  console.log(
    `Durable Object calls per endpoint per delivery batch ≤ 1: at most ${doCalls.toFixed(2)}, ${met(doCalls <= 1)}`,
  );
  const cost = Math.max(...totals);
  console.log(`cost per million deliveries < $5: $${cost.toFixed(2)}, ${met(cost < 5)}`);
  // Issue 15: below the whole-life cost of the single-database design, $7.75 per million at fan-out 1.
  console.log(
    `whole-life cost per million at fan-out 1 < $7.75: $${wholeLife[0].toFixed(2)}, ${met(wholeLife[0] < 7.75)}`,
  );
} finally {
  receiver.close();
  receiver.closeAllConnections();
}
