import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { listDeliveries } from "../../../src/db/deliveries/history";
import { listRecoverableDeliveries } from "../../../src/db/deliveries/maintenance";
import { insertEndpoint, updateEndpoint } from "../../../src/db/endpoints/writes";
import { listEvents } from "../../../src/db/events";
import { MAX_SCANNED_ROWS } from "../../../src/db/page";
import type { EndpointToWrite } from "../../../src/domain/endpoint";
import { type EndpointId, ID_PREFIX, idAt, type OrganizationId } from "../../../src/lib/ids";
import { createOrganization } from "../../support/api";
import { recordingDatabase } from "../../support/d1-recorder";
import { legacyHistory } from "../../support/shards";

type Row = {
  id: string;
  endpointId?: string;
  status?: "pending" | "delivered" | "failed";
  replayOf?: string | null;
  createdAt?: string;
  eventType?: string;
};

/**
 * Writes delivery rows as they are stored, many in one statement; returns what D1 counted. Into the
 * legacy table, which the statements read through legacyHistory: their SQL is a week's, but for its
 * table's name (db/buckets.ts).
 */
async function insertDeliveries(organizationId: string, rows: readonly Row[]): Promise<D1Meta> {
  const values = rows.map((r) => [
    organizationId,
    r.id,
    `evt_${r.id.slice(4)}`,
    r.endpointId ?? "evsub_A",
    r.eventType ?? "matter.created",
    r.status ?? "delivered",
    r.replayOf ?? null,
    r.createdAt ?? "2026-01-01T00:00:00.000Z",
  ]);
  const { meta } = await env.DB.prepare(
    `INSERT INTO deliveries (organization_id, id, event_id, endpoint_id, event_type, status, replay_of, created_at)
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7
     FROM json_each(?)`,
  )
    .bind(JSON.stringify(values))
    .run();
  return meta;
}

/** A delivery id of event time `time` (10 characters) with a body `rest` (16 characters). */
const dlv = (time: string, rest: string) => `dlv_${time.padEnd(10, "0")}${rest.padEnd(16, "0")}`;

/** What a recorder saw, but the look-ups of which weekly tables exist (db/buckets.ts: liveBuckets). */
const dataStatements = (recorder: ReturnType<typeof recordingDatabase>) =>
  recorder.statements.filter(({ sql }) => !sql.includes("sqlite_master"));

/** Rows the first statement on history tables read. */
const rowsRead = (recorder: ReturnType<typeof recordingDatabase>) =>
  dataStatements(recorder)[0]?.meta?.rows_read;

/** The plan SQLite chooses for every statement `work` ran, one line per step. */
async function plansOf(work: (db: D1Database) => Promise<unknown>): Promise<string> {
  const recorder = recordingDatabase(env.DB);
  await work(recorder.db);
  const plans = await Promise.all(
    dataStatements(recorder).map(async ({ sql, params }) => {
      const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...params)
        .all<{ detail: string }>();
      return results.map((step) => step.detail).join("\n");
    }),
  );
  return plans.join("\n---\n");
}

describe("recover's scan", () => {
  it("marks each failed original recoverable unless a replay of it is pending or delivered, oldest first", async () => {
    const org = await createOrganization();
    const at = (s: number) => `2026-01-01T00:00:0${s}.000Z`;
    await insertDeliveries(org.id, [
      { id: dlv("1", "A"), status: "failed", createdAt: at(1) },
      { id: dlv("1", "B"), status: "pending", replayOf: dlv("1", "A"), createdAt: at(5) },
      { id: dlv("2", "A"), status: "failed", createdAt: at(1) },
      { id: dlv("2", "B"), status: "failed", replayOf: dlv("2", "A"), createdAt: at(5) },
      { id: dlv("3", "A"), status: "failed", createdAt: at(2) },
      { id: dlv("3", "B"), status: "delivered", replayOf: dlv("3", "A"), createdAt: at(5) },
      { id: dlv("4", "A"), status: "failed", createdAt: at(3), endpointId: "evsub_B" },
      { id: dlv("5", "A"), status: "delivered", createdAt: at(3) },
      { id: dlv("6", "A"), status: "failed", createdAt: at(9) },
    ]);
    const scan = (after?: string, limit = 10) =>
      listRecoverableDeliveries(legacyHistory(env.DB), org.id, "evsub_A" as EndpointId, {
        since: at(0),
        until: at(9),
        after,
        limit,
      });
    const summary = (rows: Awaited<ReturnType<typeof scan>>) =>
      rows.map((r) => [r.id.slice(4, 5), r.recoverable]);
    // The replays themselves, the other endpoint's, the delivered one and the one after `until` are left out.
    expect(summary(await scan())).toEqual([
      ["1", false],
      ["2", true],
      ["3", false],
    ]);
    // Going on after a delivery: the ones created at the same instant that sort after it still come.
    expect(summary(await scan(dlv("1", "A")))).toEqual([
      ["2", true],
      ["3", false],
    ]);
    expect(summary(await scan(undefined, 1))).toEqual([["1", false]]);
  });

  it("reads only the partial index of failed originals, and each one's own id range for its replays", async () => {
    const org = await createOrganization();
    const plan = await plansOf((db) =>
      listRecoverableDeliveries(legacyHistory(db), org.id, "evsub_A" as EndpointId, {
        since: "2026-01-01T00:00:00Z",
        until: "2026-02-01T00:00:00Z",
        after: dlv("1", "A"),
        limit: 1000,
      }),
    );
    expect(plan).toMatch(
      /SEARCH d USING INDEX deliveries_failed_originals \(organization_id=\? AND endpoint_id=\? AND created_at>\? AND created_at<\?\)/,
    );
    expect(plan).toMatch(/SEARCH r USING PRIMARY KEY \(organization_id=\? AND id>\? AND id<\?\)/);
    expect(plan).not.toMatch(/SCAN|TEMP B-TREE/);
  });
});

describe("endpoint caps", () => {
  it("count an organization's live endpoints, and those with one URL, through indexes", async () => {
    const org = await createOrganization();
    const endpoint: EndpointToWrite = {
      id: "evsub_PLAN" as EndpointId,
      organizationId: org.id as OrganizationId,
      url: "https://example.com/hooks",
      description: "",
      eventTypeFilters: ["*"],
      allowedScopes: ["*"],
      resourceScopes: {},
      payloadFilter: null,
      status: "active",
      disabledReason: null,
      signatureScheme: "standard",
      signatureAlgorithm: "hmac-sha256",
      verificationKey: null,
      payloadFormat: "full",
      maskedHeaders: {},
      headerValues: { state: "none" },
      rateLimitPerSecond: null,
      timeoutMs: null,
      retrySchedule: null,
      ordering: "none",
      createdAt: "2026-01-01T00:00:00Z",
      updatedAt: "2026-01-01T00:00:00Z",
      deletedAt: null,
    };
    const plan = await plansOf(async (db) => {
      await db.batch([insertEndpoint(db, endpoint, { perOrganization: 5, perUrl: 3 })]);
      await updateEndpoint(db, endpoint, 3);
    });
    expect(plan).toMatch(/SEARCH endpoints USING (COVERING )?INDEX endpoints_by_url \(organization_id=\?\)/);
    expect(plan).toMatch(
      /SEARCH endpoints USING (COVERING )?INDEX endpoints_by_url \(organization_id=\? AND url=\?\)/,
    );
    expect(plan).not.toMatch(/SCAN endpoints/);
  });
});

/** `n` delivery ids, oldest first, one event millisecond apart from 2026-01-01. */
const deliveryIds = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => `${idAt(ID_PREFIX.delivery, Date.UTC(2026, 0, 1) + i)}${"0".repeat(16)}`,
  );

describe("filtered lists read a bounded number of rows", () => {
  it("reads at most MAX_SCANNED_ROWS rows of the range a page, and goes on from where the scan stopped", async () => {
    const org = await createOrganization();
    const ids = deliveryIds(5 * MAX_SCANNED_ROWS);
    const failed = new Set(ids.filter((_, i) => i % 97 === 0 || i < 3));
    await insertDeliveries(
      org.id,
      ids.map((id) => ({ id, status: failed.has(id) ? "failed" : "delivered" })),
    );

    const found: string[] = [];
    const pages: { items: number; rowsRead: number }[] = [];
    let cursor: string | undefined;
    do {
      const recorder = recordingDatabase(env.DB);
      const page = await listDeliveries(legacyHistory(recorder.db), org.id, {
        status: "failed",
        limit: 20,
        cursor,
      });
      found.push(...page.data.map((d) => d.id));
      pages.push({ items: page.data.length, rowsRead: rowsRead(recorder) ?? 0 });
      cursor = page.nextCursor ?? undefined;
    } while (cursor);

    expect(found).toEqual([...failed].reverse());
    // Each row read counts about three times in rows_read (the scan, and the numbering of what it read).
    for (const page of pages) expect(page.rowsRead).toBeLessThanOrEqual(3 * MAX_SCANNED_ROWS + 5);
    // One row in 97 matches: every page is short, and each but the last carries a cursor, five scans
    // of MAX_SCANNED_ROWS rows and a last, empty page that finds the range over.
    expect(pages.every((page) => page.items < 20)).toBe(true);
    expect(pages).toHaveLength(6);

    // A filter nothing matches reads one scan's rows, not the whole range, and says where it stopped.
    const none = recordingDatabase(env.DB);
    const empty = await listDeliveries(legacyHistory(none.db), org.id, {
      endpointId: "evsub_none",
      limit: 50,
    });
    expect(empty).toEqual({ data: [], nextCursor: ids.at(-MAX_SCANNED_ROWS) });
    expect(rowsRead(none)).toBeLessThanOrEqual(3 * MAX_SCANNED_ROWS + 5);

    // A page without filters reads its rows and one more; with matches all around, the scan stops early.
    const plain = recordingDatabase(env.DB);
    await listDeliveries(legacyHistory(plain.db), org.id, { limit: 50 });
    expect(rowsRead(plain)).toBeLessThanOrEqual(51);
    const dense = recordingDatabase(env.DB);
    expect(
      (await listDeliveries(legacyHistory(dense.db), org.id, { status: "delivered", limit: 50 })).data,
    ).toHaveLength(50);
    expect(rowsRead(dense)).toBeLessThan(MAX_SCANNED_ROWS);
  });

  it("turns time windows into primary-key bounds where ids carry the time, and never scans a table", async () => {
    const org = await createOrganization();
    const since = "2026-01-01T00:00:00.000Z";
    const until = "2026-01-02T00:00:00.000Z";
    const plan = await plansOf(async (db) => {
      const history = legacyHistory(db);
      await listDeliveries(history, org.id, {
        limit: 50,
        cursor: deliveryIds(1)[0],
        endpointId: "evsub_A",
        eventType: "matter.created",
        types: ["matter.created"],
        status: "failed",
        since,
        until,
      });
      await listDeliveries(history, org.id, {
        limit: 50,
        eventId: "evt_01JTESTTESTTESTTESTTESTTES",
        status: "failed",
      });
      await listEvents(history, org.id, {
        limit: 50,
        since,
        until,
        type: "matter.created",
        types: ["matter.created"],
      });
      await listEvents(history, org.id, { limit: 50, since, until });
    });
    expect(plan).toMatch(/SEARCH deliveries USING PRIMARY KEY \(organization_id=\? AND id<\?\)/);
    expect(plan).toMatch(/SEARCH deliveries USING PRIMARY KEY \(organization_id=\? AND id>\? AND id<\?\)/);
    expect(plan).toMatch(/SEARCH events USING PRIMARY KEY \(organization_id=\? AND id>\? AND id<\?\)/);
    expect(plan).not.toMatch(/SCAN (deliveries|events)|USING INDEX|TEMP B-TREE/);
  });

  it("costs a delivered first attempt no index row: only failed originals enter recover's index", async () => {
    const org = await createOrganization();
    const [delivered, failed, replay] = deliveryIds(3);
    expect((await insertDeliveries(org.id, [{ id: delivered as string }])).rows_written).toBe(1);
    expect((await insertDeliveries(org.id, [{ id: failed as string, status: "failed" }])).rows_written).toBe(
      2,
    );
    const failedReplay = { id: replay as string, status: "failed" as const, replayOf: failed };
    expect((await insertDeliveries(org.id, [failedReplay])).rows_written).toBe(1);
  });
});
