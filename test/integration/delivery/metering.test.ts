import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { endpointHealth } from "../../../src/health/endpoint-health";
import { withMetering } from "../../../src/lib/metering";

afterEach(() => vi.restoreAllMocks());

/** The `operations` line logged by one metered run of `work`. */
async function operationsOf(work: (env: Env) => Promise<unknown>, meter = "true") {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  await withMetering({ ...env, METER_OPERATIONS: meter }, () => ({ invocation: "test" }), work);
  return log.mock.calls.map(([line]) => JSON.parse(String(line))).find((l) => l.message === "operations");
}

describe("operation metering (METER_OPERATIONS, for npm run bench)", () => {
  it("counts D1 rows from query meta, queue operations per 64 KB and Durable Object calls", async () => {
    const line = await operationsOf(async (metered) => {
      await metered.DB.prepare("INSERT INTO organizations (id, name, created_at) VALUES (?, 'm', 'now')")
        .bind(`org_meter${Math.random()}`)
        .run();
      await metered.DB.batch([
        metered.DB.prepare("SELECT 1"),
        metered.DB.prepare("SELECT COUNT(*) FROM organizations"),
      ]);
      expect(await metered.DB.prepare("SELECT 7 AS n").first("n")).toBe(7);
      await metered.DELIVERIES_QUEUE.sendBatch([{ body: { small: true } }, { body: "x".repeat(70_000) }]);
      const health = endpointHealth(metered, "evsub_metering");
      await health.summary();
      await health.summary();
    });
    expect(line).toMatchObject({
      invocation: "test",
      d1Queries: 4,
      d1RowsWritten: 2, // the row and its primary-key index (organizations is a rowid table)
      queueWriteOperations: 3, // one for the small message, two for the 70 KB one
      durableObjectCalls: 2,
      durableObjects: 1,
    });
    expect(line.d1RowsRead).toBeGreaterThan(0);
  });

  it("is off by default: nothing counted, nothing logged", async () => {
    expect(await operationsOf(async (plain) => plain.DB.prepare("SELECT 1").run(), "false")).toBeUndefined();
  });
});
