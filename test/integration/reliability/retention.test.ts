import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BUCKET_MS, bucketOfTime, tableOfId } from "../../../src/db/buckets";
import { getOrganization } from "../../../src/db/organizations";
import { ID_PREFIX, idAt, timeOfId } from "../../../src/lib/ids";
import { applyRetention } from "../../../src/sweeper/retention";
import { callOk, createOrganization, publish } from "../../support/api";
import { recordingDatabase } from "../../support/d1-recorder";
import { givenEndpoint, matter, publishSettled, rotateSecret } from "../../support/fixtures";
import { countOnEveryShard, envWithDataDb, historyOfOrganization, weeklyHistory } from "../../support/shards";

const count = async (sql: string, ...params: string[]) =>
  (await env.DB.prepare(sql)
    .bind(...params)
    .first<number>("n")) ?? 0;

describe("retention", () => {
  it("keeps history from before weeks readable, deletes it row by row, and drops its tables once it has all expired", async () => {
    // Shard 0 is the primary database, whose `events` and `deliveries` (from migrations/control/) are
    // the legacy bucket: ids older than its history_legacy mark are looked for there. (This test runs
    // first: the next one's retention, far ahead, drops them.)
    let org = await createOrganization();
    while ((await getOrganization(env.DB, org.id))?.shard !== 0) org = await createOrganization();
    const history = await historyOfOrganization(org.id);
    expect(history.legacyUntil).toBeGreaterThan(0);
    const old = history.legacyUntil - 86_400_000;
    const eventId = `${idAt(ID_PREFIX.event, old)}${"A".repeat(16)}`;
    const at = new Date(old).toISOString();
    await history.db
      .prepare(
        `INSERT INTO events (organization_id, id, type, data, resources, occurred_at, created_at)
         VALUES (?, ?, 'matter.created', '{"matterId":"m","name":"n"}', '{}', ?, ?)`,
      )
      .bind(org.id, eventId, at, at)
      .run();
    expect(tableOfId(history, "events", eventId)).toBe("events");
    const { event } = await callOk("GET", `/webhooks/v1/events/${eventId}`, 200, { token: org.token });
    expect(event).toMatchObject({ id: eventId, createdAt: at });
    const listed = await callOk("GET", "/webhooks/v1/events", 200, { token: org.token });
    expect(listed.data.map((e: { id: string }) => e.id)).toEqual([eventId]);

    // Past RETENTION_DAYS for the row, not yet for the mark: the row goes, the tables stay.
    const report = await applyRetention(env, old + 30 * 86_400_000 + 1_000);
    expect(report.legacyEvents).toBe(1);
    await callOk("GET", `/webhooks/v1/events/${eventId}`, 404, { token: org.token });
    expect(await history.db.prepare("SELECT until_ms FROM history_legacy").first("until_ms")).toBe(
      history.legacyUntil,
    );

    // Past RETENTION_DAYS for the mark: the legacy tables and the mark go; weeks only from then on.
    await applyRetention(env, history.legacyUntil + 30 * 86_400_000);
    const legacyTables = await history.db
      .prepare(
        "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'deliveries')",
      )
      .first<number>("n");
    expect(legacyTables).toBe(0);
    expect(await history.db.prepare("SELECT COUNT(*) AS n FROM history_legacy").first<number>("n")).toBe(0);
    expect((await historyOfOrganization(org.id)).legacyUntil).toBe(0);
    const fresh = await publish(org.id, "matter.created", matter);
    expect(tableOfId(await historyOfOrganization(org.id), "events", fresh.id)).toMatch(/^events_w\d+$/);
    await callOk("GET", `/webhooks/v1/events/${fresh.id}`, 200, { token: org.token });
  });

  it("keeps a week for RETENTION_DAYS at least, then drops its events and deliveries whole", async () => {
    const { org, endpoint } = await givenEndpoint({ filters: ["*"] });
    const { event, delivery } = await publishSettled(org, { count: 1 });
    const week = bucketOfTime(weeklyHistory(env.DB), timeOfId(event.id)) as number;
    const weekEnd = (week + 1) * BUCKET_MS;

    // RETENTION_DAYS (30) after the event, its week is not over: nothing goes.
    const early = await applyRetention(env, timeOfId(event.id) + 30 * 86_400_000 + 1);
    expect(early.weeks).toBe(0);
    await callOk("GET", `/webhooks/v1/deliveries/${delivery.id}`, 200, { token: org.token });

    // RETENTION_DAYS after the week's end: its tables go, on the organization's shard.
    const history = await historyOfOrganization(org.id);
    const recorded = recordingDatabase(history.db);
    const report = await applyRetention(
      await envWithDataDb(org.id, () => recorded.db),
      weekEnd + 30 * 86_400_000,
    );
    expect(report.weeks).toBeGreaterThanOrEqual(1);
    expect(await countOnEveryShard("events", "id = ?", event.id)).toBe(0);
    expect(await countOnEveryShard("deliveries", "event_id = ?", event.id)).toBe(0);
    await callOk("GET", `/webhooks/v1/events/${event.id}`, 404, { token: org.token });
    const { data } = await callOk("GET", `/webhooks/v1/deliveries?endpoint_id=${endpoint.id}`, 200, {
      token: org.token,
    });
    expect(data).toEqual([]);
    // Dropped, not deleted row by row: the drop writes a few schema rows, not one per row it held.
    const drops = recorded.statements.filter((s) => s.sql.startsWith("DROP TABLE"));
    expect(drops.map((s) => s.sql)).toEqual(
      expect.arrayContaining([
        `DROP TABLE IF EXISTS deliveries_w${week}`,
        `DROP TABLE IF EXISTS events_w${week}`,
      ]),
    );
    expect(recorded.statements.some((s) => /^DELETE FROM (events|deliveries)_w/.test(s.sql))).toBe(false);
  });

  it("drops rotated-out secrets once their grace window is over", async () => {
    const { org, endpoint } = await givenEndpoint({ filters: ["*"] });
    await rotateSecret(org, endpoint.id, 0);
    const secrets = "SELECT COUNT(*) AS n FROM endpoint_secrets WHERE endpoint_id = ?";
    expect(await count(secrets, endpoint.id)).toBe(2);
    await applyRetention(env, Date.now() + 1_000);
    expect(await count(secrets, endpoint.id)).toBe(1);
  });
});
