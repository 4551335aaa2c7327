import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ensureBuckets, tableOfId } from "../../../src/db/buckets";
import { decodeAttempts } from "../../../src/db/deliveries/attempts";
import { insertDeliveryOutcomes } from "../../../src/db/deliveries/consumer";
import { storedIds } from "../../../src/db/id-ranges";
import { IN_ID_LIST, idList } from "../../../src/db/page";
import type { DeliveryOutcome } from "../../../src/domain/delivery";
import { createOrganization } from "../../support/api";
import { deliveredOutcome } from "../../support/outcomes";
import { weeklyHistory } from "../../support/shards";

// Ids without a time (`dlv_test…`) are in week 0: its tables hold every row written here.
const history = weeklyHistory(env.DB);
const table = tableOfId(history, "deliveries", "dlv_test000000");

/** Writes the outcomes' rows, their week's tables made first, as the delivery run does. */
async function insertOutcomes(outcomes: DeliveryOutcome[]) {
  await ensureBuckets(
    history,
    outcomes.map((o) => o.job.id),
  );
  const statements = insertDeliveryOutcomes(history, outcomes);
  await env.DB.batch(statements);
  return statements;
}

/** The `n`th delivered first attempt of an organization, whose answer body is `responseBody`. */
const deliveredOutcomeOf = (organizationId: string, n: number, responseBody: string) =>
  deliveredOutcome(
    {
      organizationId,
      deliveryId: `dlv_test${String(n).padStart(6, "0")}`,
      endpointId: "evsub_test",
      eventId: "evt_test",
    },
    responseBody,
  );

describe("rows written and looked up many at a time", () => {
  it("writes first attempts' rows in one statement, with their columns typed as one at a time would", async () => {
    const org = await createOrganization();
    const outcomes = Array.from({ length: 150 }, (_, n) => deliveredOutcomeOf(org.id, n, "ok"));
    const statements = await insertOutcomes(outcomes);
    expect(statements.length).toBe(1);
    const { results } = await env.DB.prepare(
      `SELECT typeof(attempt_count) AS count_type, typeof(last_status_code) AS status_type,
         typeof(next_attempt_at) AS next_type, status, attempts FROM ${table} WHERE organization_id = ?`,
    )
      .bind(org.id)
      .all<{
        count_type: string;
        status_type: string;
        next_type: string;
        status: string;
        attempts: string;
      }>();
    expect(results).toHaveLength(150);
    for (const row of results) {
      expect(row).toMatchObject({
        count_type: "integer",
        status_type: "integer",
        next_type: "null",
        status: "delivered",
      });
      expect(decodeAttempts(row.attempts)).toEqual([
        expect.objectContaining({ statusCode: 200, responseBody: "ok" }),
      ]);
    }
    // Written again (a run that raced another), nothing changes.
    await insertOutcomes(outcomes);
    const ids = await storedIds(
      history,
      "deliveries",
      org.id,
      outcomes.map((o) => o.job.id),
    );
    expect(ids.size).toBe(150);
  });

  it("cuts a write whose JSON would pass D1's 2 MB limit on a value into several statements", async () => {
    const org = await createOrganization();
    const outcomes = Array.from({ length: 3 }, (_, n) => deliveredOutcomeOf(org.id, n, "é".repeat(300_000)));
    const statements = await insertOutcomes(outcomes);
    expect(statements.length).toBe(3);
    expect((await storedIds(history, "deliveries", org.id, ["dlv_test000000", "dlv_test000002"])).size).toBe(
      2,
    );
  });

  it("finds ids past D1's hundred bound parameters, only the organization's, through the primary key", async () => {
    const org = await createOrganization();
    const other = await createOrganization();
    await insertOutcomes(Array.from({ length: 120 }, (_, n) => deliveredOutcomeOf(org.id, n, "")));
    const asked = Array.from({ length: 240 }, (_, n) => `dlv_test${String(n).padStart(6, "0")}`);
    expect((await storedIds(history, "deliveries", org.id, asked)).size).toBe(120);
    expect((await storedIds(history, "deliveries", other.id, asked)).size).toBe(0);
    expect((await storedIds(history, "events", org.id, [])).size).toBe(0);

    const { results: plan } = await env.DB.prepare(
      `EXPLAIN QUERY PLAN SELECT id FROM ${table} WHERE organization_id = ? AND id ${IN_ID_LIST}`,
    )
      .bind(org.id, idList(asked))
      .all<{ detail: string }>();
    expect(plan.map((step) => step.detail).join("\n")).toMatch(
      /SEARCH deliveries_w0 USING PRIMARY KEY \(organization_id=\? AND id=\?\)/,
    );
  });
});
