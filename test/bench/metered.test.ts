import {
  createExecutionContext,
  createScheduledController,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import metered from "../../bench/metered/index";
import {
  meteredDurableObject,
  meteredStorage,
  noOperations,
  withMeteredBatch,
  withMetering,
} from "../../bench/metered/metering";
import { EndpointHealth, endpointHealth } from "../../src/health/endpoint-health";
import service from "../../src/index";
import type { EndpointId } from "../../src/lib/ids";
import { ADMIN_TOKEN, createOrganization } from "../support/api";
import { publishCaptured } from "../support/consumers";
import { batchOf } from "../support/faults";
import { givenEndpoint, matter, publishSettled } from "../support/fixtures";
import { countOnEveryShard } from "../support/shards";

afterEach(() => vi.restoreAllMocks());

/** The `operations` lines logged while `work` runs. */
async function operationsLogged(work: () => Promise<unknown>) {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  await work();
  const lines = log.mock.calls.map(([line]) => JSON.parse(String(line)));
  log.mockRestore();
  return lines.filter((line) => line.message === "operations");
}

/** A request as the runtime hands it to a fetch handler. */
const organizationRequest = () =>
  new Request("https://webhooks.test/admin/v1/organizations", {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "metered" }),
  }) as Parameters<typeof service.fetch>[0];

describe("operation counting (bench/metered, for npm run bench)", () => {
  it("counts D1 rows from query meta, queue operations per 64,000 bytes with metadata, Analytics Engine points and Durable Object calls", async () => {
    const [line] = await operationsLogged(() =>
      withMetering(
        env,
        () => ({ invocation: "test" }),
        async (counted) => {
          await counted.DB.prepare("INSERT INTO organizations (id, name, created_at) VALUES (?, 'm', 'now')")
            .bind(`org_meter${Math.random()}`)
            .run();
          await counted.DB.batch([
            counted.DB.prepare("SELECT 1"),
            counted.DB.prepare("SELECT COUNT(*) FROM organizations"),
          ]);
          expect(await counted.DB.prepare("SELECT 7 AS n").first("n")).toBe(7);
          // With about 100 bytes of metadata, 63,900 bytes of body fill one 64,000-byte operation.
          await counted.DELIVERIES_QUEUE.sendBatch([
            { body: { small: true } },
            { body: "x".repeat(63_900), contentType: "text" },
            { body: "x".repeat(63_901), contentType: "text" },
          ]);
          const health = endpointHealth(counted, "evsub_metering" as EndpointId);
          await health.summary();
          await health.summary();
          await endpointHealth(counted, "evsub_other" as EndpointId).summary();
          counted.DELIVERY_ANALYTICS.writeDataPoint({ blobs: ["a"] });
          counted.DELIVERY_ANALYTICS.writeDataPoint({ blobs: ["b"] });
        },
      ),
    );
    expect(line).toMatchObject({
      invocation: "test",
      d1Queries: 4,
      d1WriteQueries: 1,
      d1RowsWritten: 2, // the row and its primary-key index (organizations is a rowid table)
      queueWriteOperations: 4, // one each for the small and the 63,900-byte body, two for 63,901 bytes
      analyticsEngineDataPoints: 2,
      durableObjectCalls: 3,
      durableObjects: 2,
      // By the name the object was asked for: two calls to one endpoint's object in this invocation.
      durableObjectCallsByName: { evsub_metering: 2, evsub_other: 1 },
    });
    expect(line.d1RowsRead).toBeGreaterThan(0);
  });

  it("counts a consumer's reads of every message received and deletes of those acknowledged, explicitly or not", async () => {
    const big = "x".repeat(70_000); // two operations each time
    const batch = batchOf("webhook-deliveries", ["acked", "retried", "left", big]);
    const [line] = await operationsLogged(() =>
      withMeteredBatch(
        env,
        batch,
        () => ({ invocation: "queue" }),
        async (_env, metered) => {
          expect(metered.messages.map((m) => m.body)).toEqual(batch.messages.map((m) => m.body));
          metered.messages[0]?.ack();
          metered.messages[1]?.retry();
          metered.messages[1]?.ack(); // the first word stands
        },
      ),
    );
    // Read: 1 + 1 + 1 + 2. Deleted: the acknowledged one, and the two the handler returned without a word on.
    expect(line).toMatchObject({ queueReadOperations: 5, queueDeleteOperations: 4 });
  });

  it("deletes nothing a throwing consumer did not acknowledge: those messages come back", async () => {
    const batch = batchOf("webhook-deliveries", ["acked", "left"]);
    const [line] = await operationsLogged(() =>
      withMeteredBatch(
        env,
        batch,
        () => ({ invocation: "queue" }),
        async (_env, metered) => {
          metered.messages[0]?.ack();
          throw new Error("injected");
        },
      ).catch(() => {}),
    );
    expect(line).toMatchObject({ queueReadOperations: 2, queueDeleteOperations: 1 });
  });

  it("counts the rows a Durable Object's storage writes: keys put and deleted, and alarms set", async () => {
    const stub = env.ENDPOINT_HEALTH.get(env.ENDPOINT_HEALTH.idFromName("evsub_storage_metering"));
    await runInDurableObject(stub, async (_instance, state) => {
      const counts = noOperations();
      const storage = meteredStorage(state.storage, counts);
      await storage.put("one", 1);
      await storage.put({ two: 2, three: 3 });
      expect(await storage.delete("one")).toBe(true);
      expect(await storage.delete("missing")).toBe(false);
      expect(await storage.delete(["two", "three", "missing"])).toBe(2);
      await storage.setAlarm(Date.now() + 3_600_000);
      await storage.deleteAlarm();
      expect(await storage.get("two")).toBeUndefined();
      expect(counts.durableObjectRowsWritten).toBe(1 + 2 + 1 + 2 + 1);
    });
  });

  it("meters a Durable Object class: a line per call from outside, its own calls to itself inside it", async () => {
    const Metered = meteredDurableObject(EndpointHealth, "EndpointHealth");
    expect(Metered.prototype).toBeInstanceOf(EndpointHealth);
    const stub = env.ENDPOINT_HEALTH.get(env.ENDPOINT_HEALTH.idFromName("evsub_class_metering"));
    const lines = await runInDurableObject(stub, (_instance, state) =>
      operationsLogged(async () => {
        const object = new Metered(state, env);
        await object.acquire(5, 100); // reads and puts the bucket
        await object.summary(); // reads the state (through its own `load`)
      }),
    );
    expect(lines).toMatchObject([
      {
        invocation: "durableObject",
        class: "EndpointHealth",
        method: "acquire",
        durableObjectRowsWritten: 1,
      },
      {
        invocation: "durableObject",
        class: "EndpointHealth",
        method: "summary",
        durableObjectRowsWritten: 0,
      },
    ]);
  });

  it("meters every D1 binding whose name starts with DB, found by name, and reads through its sessions", async () => {
    // A second database, as DB_SHARD_0… will be: here the same local database under another name.
    const withShard = { ...env, DB_SHARD_7: env.DB, DB_LABEL: "not a database" } as Env;
    const [line] = await operationsLogged(() =>
      withMetering(
        withShard,
        () => ({ invocation: "test" }),
        async (counted) => {
          const shard = (counted as unknown as Record<string, unknown>).DB_SHARD_7 as D1Database;
          expect(shard).not.toBe(env.DB);
          expect((counted as unknown as Record<string, unknown>).DB_LABEL).toBe("not a database");
          await shard.prepare("SELECT 1").all();
          await shard.batch([shard.prepare("SELECT 2"), shard.prepare("SELECT 3")]);
          const session = counted.DB.withSession("first-unconstrained");
          await session.prepare("SELECT 4").first();
          await session.batch([session.prepare("SELECT 5")]);
        },
      ),
    );
    expect(line).toMatchObject({ d1Queries: 5, d1WriteQueries: 0 });
  });

  it("answers the D1 databases' sizes (meta.size_after) and rows at /__bench/d1, bench only", async () => {
    const ctx = createExecutionContext();
    const { org } = await givenEndpoint({ filters: ["*"] });
    await publishSettled(org);
    const response = await metered.fetch(new Request("https://webhooks.test/__bench/d1"), env, ctx);
    expect(response.status).toBe(200);
    const { databases } = (await response.json()) as {
      databases: Record<string, { sizeBytes: number; events: number; deliveries: number }>;
    };
    // DB, and each shard beside it once there are shards: the organization's rows are on one of them.
    expect(Object.keys(databases)).toContain("DB");
    const all = Object.values(databases);
    for (const database of all) expect(database.sizeBytes).toBeGreaterThan(0);
    expect(all.reduce((sum, d) => sum + d.events, 0)).toBeGreaterThan(0);
    expect(all.reduce((sum, d) => sum + d.deliveries, 0)).toBeGreaterThan(0);
    const shipped = await service.fetch(new Request("https://webhooks.test/__bench/d1"), env, ctx);
    expect(shipped.status).toBe(404);
    await waitOnExecutionContext(ctx);
  });

  it("runs retention with a clock far ahead at /__bench/retention and answers what removing the history cost", async () => {
    const ctx = createExecutionContext();
    const { org } = await givenEndpoint({ filters: ["*"] });
    await publishSettled(org);
    await publishSettled(org);
    const now = Date.now() + 10 * 365 * 86_400_000;
    const response = await metered.fetch(
      new Request(`https://webhooks.test/__bench/retention?now=${now}`, { method: "POST" }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(200);
    const result = (await response.json()) as {
      retentionDays: number;
      removed: { events: number; deliveries: number };
      operations: { d1RowsWritten: number };
    };
    expect(result.retentionDays).toBe(30);
    expect(result.removed.events).toBeGreaterThanOrEqual(2);
    expect(result.removed.deliveries).toBeGreaterThanOrEqual(2);
    // Weeks are dropped whole: far fewer rows written than rows removed (a DELETE would write each).
    expect(result.operations.d1RowsWritten).toBeLessThan(result.removed.events + result.removed.deliveries);
    expect(await countOnEveryShard("deliveries")).toBe(0);
  });

  it("wraps the service's fetch, queue and scheduled handlers, a line per invocation", async () => {
    const ctx = createExecutionContext();
    const { message } = await publishCaptured((await createOrganization()).id);
    const lines = await operationsLogged(async () => {
      expect((await metered.fetch(organizationRequest(), env, ctx)).status).toBe(201);
      await metered.queue(batchOf("webhook-events", [message]), env, ctx);
      await metered.scheduled(createScheduledController({ scheduledTime: Date.now() }), env, ctx);
      await waitOnExecutionContext(ctx);
    });
    expect(lines).toMatchObject([
      { invocation: "fetch", method: "POST", path: "/admin/v1/organizations" },
      { invocation: "queue", queue: "webhook-events", messages: 1 },
      { invocation: "scheduled" },
    ]);
    for (const line of lines) expect(line.d1Queries, JSON.stringify(line)).toBeGreaterThan(0);
    expect(lines[0].d1RowsWritten).toBeGreaterThan(0);
  });

  it("counts a publish's direct delivery, left to waitUntil, in the publish's own line", async () => {
    const ctx = createExecutionContext();
    const { org, endpoint, receiver } = await givenEndpoint();
    const lines = await operationsLogged(async () => {
      const response = await metered.fetch(
        new Request("https://webhooks.test/webhooks/v1/events", {
          method: "POST",
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify({ organizationId: org.id, type: "matter.created", data: matter }),
        }) as Parameters<typeof service.fetch>[0],
        env,
        ctx,
      );
      expect(response.status).toBe(202);
      await waitOnExecutionContext(ctx);
    });
    expect(await receiver.received()).toHaveLength(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      invocation: "fetch",
      path: "/webhooks/v1/events",
      queueWriteOperations: 0,
      analyticsEngineDataPoints: 1,
      durableObjectCallsByName: { [endpoint.id]: 1 },
    });
  });

  it("exports the service's Durable Object class, metered, and its RPC entrypoint, so the bindings resolve", async () => {
    const bench = await import("../../bench/metered/index");
    const shipped = await import("../../src/index");
    expect(bench.EndpointHealth.prototype).toBeInstanceOf(shipped.EndpointHealth);
    expect(bench.Publisher).toBe(shipped.Publisher);
  });

  it("leaves the shipped Worker uncounted: its own handlers log no operations", async () => {
    const ctx = createExecutionContext();
    const lines = await operationsLogged(async () => {
      expect((await service.fetch(organizationRequest(), env, ctx)).status).toBe(201);
      await waitOnExecutionContext(ctx);
    });
    expect(lines).toEqual([]);
  });
});
