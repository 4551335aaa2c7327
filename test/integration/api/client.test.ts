import { exports } from "cloudflare:workers";
import createClient from "openapi-fetch";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, eventually, receiverChannel } from "../../support/api";
import type { paths } from "../../support/openapi/schema";

/**
 * The API as an integrator's generated client meets it: types that openapi-typescript generated with
 * its default settings from the committed document (test/support/openapi, kept equal to /openapi.json
 * by openapi.test.ts), calls made by openapi-fetch, answered by the Worker's own fetch handler.
 */
function client(token: string) {
  return createClient<paths>({
    baseUrl: "https://webhooks.test",
    headers: { authorization: `Bearer ${token}` },
    fetch: (request) => exports.default.fetch(request),
  });
}

/** The body of a successful call; otherwise the test fails with the problem the service answered. */
function ok<T>({ data, error, response }: { data?: T; error?: unknown; response: Response }): T {
  expect(error, `${response.status}: ${JSON.stringify(error)}`).toBeUndefined();
  if (data === undefined) throw new Error(`${response.url} answered ${response.status} without a body`);
  return data;
}

/** Through the client: an organization (admin token), an API key for it, and a client with that key. */
async function organizationWithKey(name: string) {
  const admin = client(ADMIN_TOKEN);
  const { organization } = ok(await admin.POST("/admin/v1/organizations", { body: { name } }));
  const { token } = ok(
    await admin.POST("/admin/v1/organizations/{id}/api_keys", {
      params: { path: { id: organization.id } },
      body: { name: "generated client" },
    }),
  );
  return { admin, organization, api: client(token) };
}

describe("a client generated from the OpenAPI document", () => {
  it("creates an organization, a key and an endpoint, publishes, and reads the delivery", async () => {
    const { admin, organization, api } = await organizationWithKey("Client Co");
    const receiver = receiverChannel();
    // Only the required settings: the others are optional in the generated types, as in the API.
    const { endpoint, signingSecret } = ok(
      await api.POST("/webhooks/v1/endpoints", {
        body: { url: receiver.url, eventTypeFilters: ["matter.*"] },
      }),
    );
    expect(signingSecret).toMatch(/^whsec_/);
    expect(endpoint.signatureScheme).toBe("standard");

    const { event } = ok(
      await admin.POST("/webhooks/v1/events", {
        params: { header: { "idempotency-key": `client-${endpoint.id}` } },
        body: { organizationId: organization.id, type: "matter.created", data: { matterId: "m", name: "n" } },
      }),
    );

    const delivered = await eventually(async () => {
      const page = ok(
        await api.GET("/webhooks/v1/deliveries", { params: { query: { event_id: event.id } } }),
      );
      return page.data.find((delivery) => delivery.status === "delivered");
    });
    expect(delivered.endpointId).toBe(endpoint.id);
    const { delivery } = ok(
      await api.GET("/webhooks/v1/deliveries/{id}", { params: { path: { id: delivered.id } } }),
    );
    expect(delivery.attempts).toMatchObject([{ number: 1, trigger: "initial", statusCode: 200 }]);
    expect(await receiver.received()).toHaveLength(1);

    const replay = ok(
      await api.POST("/webhooks/v1/deliveries/{id}/replay", { params: { path: { id: delivered.id } } }),
    );
    expect(replay.delivery.replayOf).toBe(delivered.id);
  });

  it("types what the API refuses, and reads its problem details", async () => {
    const { api } = await organizationWithKey("Strict Co");

    // @ts-expect-error: url and eventTypeFilters are required by the document, so by the types too
    const refused = await api.POST("/webhooks/v1/endpoints", { body: { description: "no URL" } });
    expect(refused.response.status).toBe(422);
    expect(refused.error).toMatchObject({
      status: 422,
      errors: expect.arrayContaining([expect.objectContaining({ path: "url" })]),
    });

    const missing = await api.GET("/webhooks/v1/endpoints/{id}", {
      params: { path: { id: "evsub_01ARZ3NDEKTSV4RRFFQ69G5FAV" } },
    });
    expect(missing.response.status).toBe(404);
    expect(missing.error).toMatchObject({ status: 404, title: "Not Found" });
  });
});
