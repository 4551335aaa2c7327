import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { applyRetention } from "../../../src/sweeper/retention";
import { callOk, eventually } from "../../support/api";
import { givenEndpoint, publishSettled, rotateSecret } from "../../support/fixtures";
import { countOnEveryShard } from "../../support/shards";

const count = async (sql: string, ...params: string[]) =>
  (await env.DB.prepare(sql)
    .bind(...params)
    .first<number>("n")) ?? 0;

describe("retention", () => {
  it("removes events and deliveries (with their attempts) older than RETENTION_DAYS, and keeps the rest", async () => {
    const { org, endpoint } = await givenEndpoint({ filters: ["*"] });
    const { event: old } = await publishSettled(org, { data: { matterId: "old", name: "n" } });
    const boundary = Date.now() + 5;
    await eventually(async () => Date.now() > boundary + 5, 1_000);
    const { event: recent } = await publishSettled(org, { data: { matterId: "recent", name: "n" } });

    // RETENTION_DAYS is 30: run as if `boundary` were 30 days ago.
    const report = await applyRetention(env, boundary + 30 * 86_400_000);
    expect(report).toMatchObject({ events: 1, deliveries: 1 });

    expect(await countOnEveryShard("SELECT COUNT(*) AS n FROM events WHERE id = ?", old.id)).toBe(0);
    expect(await countOnEveryShard("SELECT COUNT(*) AS n FROM deliveries WHERE event_id = ?", old.id)).toBe(
      0,
    );
    const { data } = await callOk("GET", `/webhooks/v1/deliveries?endpoint_id=${endpoint.id}`, 200, {
      token: org.token,
    });
    expect(data.map((d: { eventId: string }) => d.eventId)).toEqual([recent.id]);
    const [kept] = data;
    expect(
      (await callOk("GET", `/webhooks/v1/deliveries/${kept.id}`, 200, { token: org.token })).delivery
        .attempts,
    ).toHaveLength(1);
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
