import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import migration from "../../../migrations/control/0002_secrets_at_rest.sql?raw";
import {
  callOk,
  createEndpoint,
  createOrganization,
  publish,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";
import { givenEndpoint } from "../../support/fixtures";

/**
 * The data part of migrations/control/0002 (its UPDATE and DELETE statements), run on rows as migration 0001
 * left them: the schema part is applied already, as in every test.
 */
async function migrateData() {
  const statements = migration
    .split("\n")
    .filter((line) => !line.trim().startsWith("--"))
    .join("\n")
    .split(";")
    .map((statement) => statement.trim())
    .filter((statement) => /^(UPDATE|DELETE)\b/.test(statement));
  expect(statements).toHaveLength(3);
  await env.DB.batch(statements.map((statement) => env.DB.prepare(statement)));
}

describe("migration 0002: secrets at rest", () => {
  it("moves clear header values out of `headers`, still delivered, and purges deleted endpoints' secrets", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    const live = await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["matter.*"] });
    const deleted = await givenEndpoint({ org, filters: ["*"] });
    const values = { Authorization: "Bearer before-0002", "X-Tenant": "acme" };
    // As 0001 stored them: values in clear in `headers`, and a deleted endpoint that kept everything.
    await env.DB.batch([
      env.DB.prepare("UPDATE endpoints SET headers = ? WHERE id IN (?, ?)").bind(
        JSON.stringify(values),
        live.endpoint.id,
        deleted.endpoint.id,
      ),
      env.DB.prepare("UPDATE endpoints SET deleted_at = ? WHERE id = ?").bind(
        new Date().toISOString(),
        deleted.endpoint.id,
      ),
    ]);

    await migrateData();

    const rows = await env.DB.prepare(
      "SELECT id, headers, header_values, legacy_header_values FROM endpoints WHERE organization_id = ? ORDER BY id",
    )
      .bind(org.id)
      .all();
    expect(rows.results).toEqual([
      {
        id: live.endpoint.id,
        headers: JSON.stringify({ Authorization: "••••••••", "X-Tenant": "••••••••" }),
        header_values: null,
        legacy_header_values: JSON.stringify(values),
      },
      { id: deleted.endpoint.id, headers: "{}", header_values: null, legacy_header_values: null },
    ]);
    const secrets = await env.DB.prepare(
      "SELECT endpoint_id FROM endpoint_secrets WHERE endpoint_id IN (?, ?)",
    )
      .bind(live.endpoint.id, deleted.endpoint.id)
      .all();
    expect(secrets.results).toEqual([{ endpoint_id: live.endpoint.id }]);

    const read = await callOk("GET", `/webhooks/v1/endpoints/${live.endpoint.id}`, 200, { token: org.token });
    expect(read.endpoint.headers).toEqual({ Authorization: "••••••••", "X-Tenant": "••••••••" });
    const event = await publish(org.id, "matter.created", { matterId: "m", name: "n" });
    await settledDeliveries(org.token, `event_id=${event.id}&status=delivered`, 1);
    const [request] = await receiver.received();
    expect(request?.headers).toMatchObject({ authorization: "Bearer before-0002", "x-tenant": "acme" });
  });
});
