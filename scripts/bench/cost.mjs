// What the metered runs counted, per delivered event, and what it costs: from the `operations` lines
// of bench/metered (one per Worker invocation, one per Durable Object call) and the D1 readings of
// its /__bench/ routes. A figure with nothing behind it is null, never zero.
import { readFileSync } from "node:fs";
import {
  D1_STORAGE_PER_GB_MONTH,
  LOOPBACK_INVOCATIONS_PER_MILLION,
  PRICES_PER_MILLION,
} from "../../bench/prices.mjs";
import { sleep } from "./measure.mjs";

/**
 * The JSON lines the service logged from `offset` on in its log file, read once the last invocations
 * have had time to finish: `operations` (bench/metered, one per invocation or Durable Object call) and
 * `logged`, the Worker's own lines (each a billed log event in production).
 */
export async function linesSince(logFile, offset) {
  await sleep(3_000);
  const lines = readFileSync(logFile, "utf8")
    .slice(offset)
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
  return {
    operations: lines.filter((line) => line.message === "operations"),
    logged: lines.filter((line) => line.message !== "operations").length,
  };
}

const sum = (lines, key) => lines.reduce((total, line) => total + (line[key] ?? 0), 0);

/**
 * Worker invocations (fetch, queue, scheduled, and the ordered lanes' loopback calls): each has an
 * invocation log; Durable Object calls are not Worker invocations.
 */
const workerInvocations = (lines) => lines.filter((line) => line.invocation !== "durableObject");

/** The ordered lanes' calls into the Worker's own entrypoint (bench/metered/index.ts): no request fee. */
const isLoopback = (line) => line.invocation === "loopback";

/**
 * Billable operations per delivered event, all counted in the metered run (bench/metered/metering.ts),
 * except CPU, from the unmetered runs. Null when the metered run logged no invocation (nothing behind
 * the figures); CPU null when it could not be read (not Linux).
 */
export function usagePerDelivery(metered, measured) {
  const { operations: lines, logged } = metered.lines;
  const invocations = workerInvocations(lines);
  if (invocations.length === 0 || metered.deliveries === 0) return null;
  const per = (n) => n / metered.deliveries;
  const alarms = lines.filter(
    (line) => line.invocation === "durableObject" && line.method === "alarm",
  ).length;
  return {
    workerRequests: per(invocations.filter((line) => !isLoopback(line)).length),
    // Not in PRICES_PER_MILLION: priced apart (LOOPBACK_INVOCATIONS_PER_MILLION, printOrderedCost).
    loopbackInvocations: per(invocations.filter(isLoopback).length),
    workerCpuMs: measured.cpuMs > 0 ? measured.cpuMs / measured.deliveries : null,
    // The Worker's own lines and the invocation log of each invocation.
    workersLogsEvents: per(logged + invocations.length),
    d1RowsRead: per(sum(lines, "d1RowsRead")),
    d1RowsWritten: per(sum(lines, "d1RowsWritten")),
    // Written, read (each time a consumer receives it) and deleted (when acknowledged), as counted.
    queueOperations: per(
      sum(lines, "queueWriteOperations") +
        sum(lines, "queueReadOperations") +
        sum(lines, "queueDeleteOperations"),
    ),
    // Calls on stubs, and the alarms that woke an object (billed as requests too).
    durableObjectRequests: per(sum(lines, "durableObjectCalls") + alarms),
    durableObjectRowsWritten: per(sum(lines, "durableObjectRowsWritten")),
    analyticsEngineDataPoints: per(sum(lines, "analyticsEngineDataPoints")),
  };
}

/** $ per million deliveries by item, and their total; null where a quantity is (or any is, for the total). */
export function costPerMillion(usage) {
  if (!usage) return null;
  const items = Object.fromEntries(
    Object.keys(PRICES_PER_MILLION).map((item) => [
      item,
      usage[item] === null || usage[item] === undefined ? null : usage[item] * PRICES_PER_MILLION[item],
    ]),
  );
  const values = Object.values(items);
  return { items, total: values.includes(null) ? null : values.reduce((a, b) => a + b, 0) };
}

/**
 * $ per million deliveries of a load of the ordered part: costPerMillion's, and the loopback invocations
 * at their own price (LOOPBACK_INVOCATIONS_PER_MILLION, none), in the total; `loopbackIfBilled`, what
 * they would add at the Worker request price, since whether a Durable Object's call into its own
 * Worker is billed as one is not documented. Null as costPerMillion is.
 */
export function orderedCostPerMillion(usage) {
  const cost = costPerMillion(usage);
  if (!cost) return null;
  const loopback = usage.loopbackInvocations * LOOPBACK_INVOCATIONS_PER_MILLION;
  return {
    ...cost,
    loopback,
    loopbackIfBilled: usage.loopbackInvocations * PRICES_PER_MILLION.workerRequests,
    total: cost.total === null ? null : cost.total + loopback,
  };
}

/**
 * Durable Object requests per delivered event by what they were (the object's method, or `alarm`), from
 * the metered object's own lines, one per call or alarm: what the ordered lanes add shows by name
 * (enqueueOrdered, reportOrdered). Null when the run delivered nothing.
 */
export function durableObjectRequestsByMethod(metered) {
  if (metered.deliveries === 0) return null;
  const byMethod = {};
  for (const line of metered.lines.operations) {
    if (line.invocation !== "durableObject") continue;
    byMethod[line.method] = (byMethod[line.method] ?? 0) + 1 / metered.deliveries;
  }
  return byMethod;
}

/**
 * The most calls a consumer batch made to one endpoint's Durable Object, for the endpoints in
 * `rateLimited` and for the others (`null` where no batch called one of them: no data).
 */
export function durableObjectCallsPerEndpointBatch(lines, rateLimited) {
  const limited = new Set(rateLimited);
  const most = { limited: null, unlimited: null };
  for (const line of lines) {
    // Deliveries run in consumer invocations and, directly after a publish, in fetch invocations.
    if (line.invocation !== "queue" && line.invocation !== "fetch") continue;
    for (const [name, calls] of Object.entries(line.durableObjectCallsByName ?? {})) {
      const kind = limited.has(name) ? "limited" : "unlimited";
      most[kind] = Math.max(most[kind] ?? 0, calls);
    }
  }
  return most;
}

/** Each D1 database of the metered service (bench/metered/storage.ts): size in bytes, events, deliveries. */
export async function d1Sizes(base) {
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
export async function retentionFarAhead(base) {
  const now = Date.now() + 10 * 365 * 86_400_000;
  const response = await fetch(`${base}/__bench/retention?now=${now}`, { method: "POST" });
  if (!response.ok) throw new Error(`/__bench/retention: ${response.status}`);
  return response.json();
}

/**
 * D1 per delivered event, from a metered run: the statements its invocations ran; the bytes the load
 * added to the data-plane databases per delivery row it added; and the rows retention's deletes
 * wrote (and read) per delivery they removed, an event's share included. Null figures where the run
 * left no delivery rows or retention removed none.
 */
export function d1PerDelivery(metered) {
  const { operations: lines } = metered.lines;
  const { before, after, retention } = metered.storage;
  const databases = dataPlane(after);
  const total = (sizes, key) => databases.reduce((sum, name) => sum + (sizes[name]?.[key] ?? 0), 0);
  const deliveryRows = total(after, "deliveries") - total(before, "deliveries");
  const removed = retention.removed.deliveries;
  const counted = lines.length > 0;
  return {
    databases,
    statements: counted ? sum(lines, "d1Queries") / metered.deliveries : null,
    writeStatements: counted ? sum(lines, "d1WriteQueries") / metered.deliveries : null,
    bytes: deliveryRows > 0 ? (total(after, "sizeBytes") - total(before, "sizeBytes")) / deliveryRows : null,
    deliveryRows,
    retentionDays: retention.retentionDays,
    keptDays: retention.keptDays,
    removedDeliveries: removed,
    removalRowsWritten: removed > 0 ? retention.operations.d1RowsWritten / removed : null,
    removalRowsRead: removed > 0 ? retention.operations.d1RowsRead / removed : null,
  };
}

/**
 * Whole-life cost per million deliveries besides the operations: storage of the bytes for as long as
 * retention keeps them on average (`keptDays`: RETENTION_DAYS and half a week, weeks being dropped
 * whole; GB of 10^9 bytes, months of 30 days) and removal by retention. Null where a figure is.
 */
export function lifeCostPerMillion(d1) {
  const storage =
    d1.bytes === null ? null : ((d1.bytes * 1e6) / 1e9) * (d1.keptDays / 30) * D1_STORAGE_PER_GB_MONTH;
  const removal =
    d1.removalRowsWritten === null
      ? null
      : d1.removalRowsWritten * PRICES_PER_MILLION.d1RowsWritten +
        d1.removalRowsRead * PRICES_PER_MILLION.d1RowsRead;
  return { storage, removal };
}
