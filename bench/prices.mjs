// Cloudflare's Workers Paid prices for usage beyond the plan's monthly allowance, in US dollars, as
// published on these pages on 2026-11-23 (re-check them before quoting a figure):
//   Workers (requests, CPU, Workers Logs)  https://developers.cloudflare.com/workers/platform/pricing/
//   D1                                     https://developers.cloudflare.com/d1/platform/pricing/
//   Queues                                 https://developers.cloudflare.com/queues/platform/pricing/
//   Durable Objects (requests, SQLite)     https://developers.cloudflare.com/durable-objects/platform/pricing/
//   Workers Analytics Engine               https://developers.cloudflare.com/analytics/analytics-engine/pricing/
// and, read on 2026-11-30 for the whole-life cost (STORAGE_PRICES_AS_OF):
//   D1 storage                             https://developers.cloudflare.com/d1/platform/pricing/
//   R2                                     https://developers.cloudflare.com/r2/pricing/
// The $5 monthly plan fee and the included allowances are left out: the benchmark prices the marginal
// delivery, which is what a busy deployment pays for.
export const PRICES_AS_OF = "2026-11-23";
export const STORAGE_PRICES_AS_OF = "2026-11-30";

export const PRICES_PER_MILLION = {
  workerRequests: 0.3,
  workerCpuMs: 0.02,
  workersLogsEvents: 0.6,
  d1RowsRead: 0.001,
  /**
   * INSERT, UPDATE and DELETE alike: "Write operations include INSERT, UPDATE, and DELETE. Each of these
   * operations contribute towards rows written", and an index adds a row written when a write touches
   * its column. Retention's deletes are priced with this too.
   */
  d1RowsWritten: 1.0,
  /** Each 64,000 bytes of a message (about 100 of them metadata) written, read or deleted is one operation. */
  queueOperations: 0.4,
  durableObjectRequests: 0.15,
  durableObjectRowsWritten: 1.0,
  analyticsEngineDataPoints: 0.25,
};

/**
 * The ordered lanes' calls into the Worker's own `OrderedDelivery` entrypoint (a loopback service
 * binding, src/delivery/ordered-entrypoint.ts), per million: none. "Service bindings don't increase
 * costs. You can split apart functionality into multiple Workers, without incurring additional costs"
 * (https://developers.cloudflare.com/workers/runtime-apis/bindings/service-bindings/, not dated: re-check);
 * their CPU is billed, and is in the CPU figure. The page speaks of one Worker calling another, not of a
 * Durable Object calling its Worker, so the bench also prints what they would cost at the Worker
 * request price (workerRequests).
 */
export const LOOPBACK_INVOCATIONS_PER_MILLION = 0;

/**
 * D1 storage: "First 5 GB included + $0.75 / GB-mo" (Workers Paid). The page does not define the GB or
 * the month; the bench takes 10^9 bytes (the smaller unit, so the higher cost) and 30 days.
 */
export const D1_STORAGE_PER_GB_MONTH = 0.75;

/**
 * R2, Standard storage (Infrequent Access costs more per operation and bills 30 days at least). Not in
 * today's per-delivery cost: the service writes nothing to R2 yet (issue 15 §4 may move bulk bytes there).
 * Class A (writes: PutObject, CopyObject, ListObjects, …) and Class B (reads: GetObject, HeadObject, …)
 * are per million requests; storage is per GB-month, "calculated by averaging the peak storage per
 * day over a billing period (30 days)"; "Free operations include DeleteObject, DeleteBucket and
 * AbortMultipartUpload", so removal by a lifecycle rule or a delete costs nothing. Usage is rounded up
 * to the next billing unit, and the first 10 GB-month, 1 million Class A and 10 million Class B a month
 * are free (left out, like the Workers allowances).
 */
export const R2_PRICES = {
  classAPerMillion: 4.5,
  classBPerMillion: 0.36,
  storagePerGbMonth: 0.015,
  deletePerMillion: 0,
};
