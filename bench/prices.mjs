// Cloudflare's Workers Paid prices for usage beyond the plan's monthly allowance, in US dollars, as
// published on these pages on 2026-11-23 (re-check them before quoting a figure):
//   Workers (requests, CPU, Workers Logs)  https://developers.cloudflare.com/workers/platform/pricing/
//   D1                                     https://developers.cloudflare.com/d1/platform/pricing/
//   Queues                                 https://developers.cloudflare.com/queues/platform/pricing/
//   Durable Objects (requests, SQLite)     https://developers.cloudflare.com/durable-objects/platform/pricing/
//   Workers Analytics Engine               https://developers.cloudflare.com/analytics/analytics-engine/pricing/
// The $5 monthly plan fee and the included allowances are left out: the benchmark prices the marginal
// delivery, which is what a busy deployment pays for.
export const PRICES_AS_OF = "2026-11-23";

export const PRICES_PER_MILLION = {
  workerRequests: 0.3,
  workerCpuMs: 0.02,
  workersLogsEvents: 0.6,
  d1RowsRead: 0.001,
  d1RowsWritten: 1.0,
  /** Each 64,000 bytes of a message (about 100 of them metadata) written, read or deleted is one operation. */
  queueOperations: 0.4,
  durableObjectRequests: 0.15,
  durableObjectRowsWritten: 1.0,
  analyticsEngineDataPoints: 0.25,
};
