import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BUCKET_MS, dropBucket, ensureBuckets, liveBuckets, tableOfId } from "../../../src/db/buckets";
import { insertDeliveryOutcomes } from "../../../src/db/deliveries/consumer";
import { getDelivery, listDeliveries } from "../../../src/db/deliveries/history";
import {
  fannedOutBelow,
  findEventByIdempotencyKey,
  getEvent,
  insertEvent,
  insertOrderedEvent,
  listEvents,
} from "../../../src/db/events";
import { storedIds } from "../../../src/db/id-ranges";
import {
  type DeliveryId,
  type EventId,
  ID_PREFIX,
  idAt,
  type OrganizationId,
  timeOfId,
} from "../../../src/lib/ids";
import { deliveredOutcome } from "../../support/outcomes";
import { weeklyHistory } from "../../support/shards";

/**
 * Events and deliveries in weekly tables (src/db/buckets.ts): rows of several weeks, read back as one
 * history. On shard 1, a database made after weeks: no legacy bucket.
 */
const history = weeklyHistory(env.DB_SHARD_1, "buckets-test");
const org = "org_BUCKETS" as OrganizationId;
/** The starts of three weeks in a row (weeks count from the epoch, so they start on Thursdays). */
const weeks = [0, 1, 2].map((w) => (Math.floor(Date.UTC(2026, 10, 2) / BUCKET_MS) + w) * BUCKET_MS);

const eventAt = (ms: number, n: number) => `${idAt(ID_PREFIX.event, ms + n)}${"E".repeat(15)}${n}` as EventId;
const deliveryOf = (eventId: EventId) => `dlv_${eventId.slice(4, 14)}${"D".repeat(16)}` as DeliveryId;

async function storeEvent(id: EventId, idempotencyKey?: string) {
  const at = new Date(timeOfId(id)).toISOString();
  return insertEvent(
    history,
    {
      id,
      organizationId: org,
      type: "matter.created",
      data: { n: id },
      resources: {},
      occurredAt: at,
      createdAt: at,
    },
    { sweepAfter: at, idempotency: idempotencyKey ? { key: idempotencyKey, requestHash: "h" } : undefined },
  );
}

const delivered = (eventId: EventId) =>
  deliveredOutcome({ organizationId: org, deliveryId: deliveryOf(eventId), endpointId: "evsub_B", eventId });

describe("history in weekly tables", () => {
  // Three events in each of three weeks, each with its delivery, in the week of its event.
  const eventIds = weeks.flatMap((week) => [0, 1, 2].map((n) => eventAt(week + 86_400_000, n)));

  it("writes each row into its week's tables, made on first use", async () => {
    for (const id of eventIds) expect(await storeEvent(id)).toBe(true);
    const outcomes = eventIds.map(delivered);
    await ensureBuckets(
      history,
      outcomes.map((o) => o.job.id),
    );
    await history.db.batch(insertDeliveryOutcomes(history, outcomes));

    const tables = new Set(eventIds.map((id) => tableOfId(history, "events", id)));
    expect(tables.size).toBe(3);
    expect((await liveBuckets(history)).length).toBe(3);
    for (const id of eventIds) {
      expect(tableOfId(history, "deliveries", deliveryOf(id)).replace("deliveries", "events")).toBe(
        tableOfId(history, "events", id),
      );
      expect((await getEvent(history, org, id))?.id).toBe(id);
      expect((await getDelivery(history, org, deliveryOf(id)))?.eventId).toBe(id);
    }
    expect((await storedIds(history, "deliveries", org, eventIds.map(deliveryOf))).size).toBe(9);
  });

  it("lists across weeks newest first, a page at a time, with nothing twice and nothing left out", async () => {
    for (const limit of [1, 2, 4, 50]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await listEvents(history, org, { limit, cursor });
        expect(page.data.length).toBeLessThanOrEqual(limit);
        seen.push(...page.data.map((e) => e.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toEqual([...eventIds].reverse());

      const delivered: string[] = [];
      cursor = undefined;
      do {
        const page = await listDeliveries(history, org, { limit, cursor, status: "delivered" });
        delivered.push(...page.data.map((d) => d.eventId));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(delivered).toEqual([...eventIds].reverse());
    }
    // Bounds pick the weeks: since the second week's start, the first week is not read.
    const since = new Date(weeks[1] as number).toISOString();
    const recent = await listEvents(history, org, { limit: 50, since });
    expect(recent.data.map((e) => e.id)).toEqual(eventIds.slice(3).reverse());
    const ofOne = await listDeliveries(history, org, { limit: 50, eventId: eventIds[4] });
    expect(ofOne.data.map((d) => d.eventId)).toEqual([eventIds[4]]);
  });

  it("remembers an Idempotency-Key in whichever week its event is", async () => {
    const keyed = eventAt(weeks[0] as number, 7);
    expect(await storeEvent(keyed, "the-key")).toBe(true);
    expect((await findEventByIdempotencyKey(history, org, "the-key"))?.event.id).toBe(keyed);
    expect(await findEventByIdempotencyKey(history, org, "another-key")).toBeNull();
  });

  it("reads a dropped week as empty, never as an error", async () => {
    const [first] = eventIds as [EventId];
    const week = Math.floor((weeks[0] as number) / BUCKET_MS);
    await dropBucket(history, week);
    expect(await getEvent(history, org, first)).toBeNull();
    expect(await getDelivery(history, org, deliveryOf(first))).toBeNull();
    expect((await storedIds(history, "events", org, [first])).size).toBe(0);
    const all = await listEvents(history, org, { limit: 50 });
    expect(all.data.map((e) => e.id)).toEqual(eventIds.slice(3).reverse());
    expect(await liveBuckets(history)).not.toContain(week);
  });
});

describe("a week made before ordered delivery", () => {
  it("gets its ordering columns on the first write into it, and numbers ordered events in it", async () => {
    const old = weeklyHistory(env.DB_SHARD_1, "buckets-upgrade-test");
    const weekStart = (Math.floor(Date.UTC(2026, 9, 5) / BUCKET_MS) + 0) * BUCKET_MS;
    const table = tableOfId(old, "events", eventAt(weekStart, 1));
    // The events table as a week made before migrations/data/0002 has it: no sequence, no ordering key.
    await env.DB_SHARD_1.prepare(
      `CREATE TABLE ${table} (organization_id TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
         data TEXT NOT NULL, data_key TEXT, resources TEXT NOT NULL, occurred_at TEXT NOT NULL,
         created_at TEXT NOT NULL, sweep_after TEXT, idempotency_key TEXT, request_hash TEXT,
         fan_out_status TEXT NOT NULL DEFAULT 'done', fan_out_error TEXT, sweeps INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY (organization_id, id)) WITHOUT ROWID`,
    ).run();
    const orderedOrg = "org_BUCKETSORDERED" as OrganizationId;
    const numbered = async (n: number) =>
      insertOrderedEvent(
        old,
        {
          id: eventAt(weekStart, n),
          organizationId: orderedOrg,
          type: "matter.created",
          data: { n },
          resources: {},
          occurredAt: new Date(weekStart).toISOString(),
          createdAt: new Date(weekStart).toISOString(),
        },
        { sweepAfter: new Date(weekStart).toISOString(), orderingKey: n === 1 ? "key-a" : null },
      );
    expect(await numbered(1)).toBe(1);
    expect(await numbered(2)).toBe(2);
    expect(await getEvent(old, orderedOrg, eventAt(weekStart, 1))).toMatchObject({
      order: { sequence: 1, key: "key-a" },
    });
    expect(await getEvent(old, orderedOrg, eventAt(weekStart, 2))).toMatchObject({
      order: { sequence: 2, key: null },
    });
    // Both pending fan-out: nothing below 1 is known fanned out.
    expect(await fannedOutBelow(old, orderedOrg)).toBe(1);
  });
});
