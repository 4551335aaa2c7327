import { describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  callOk,
  createEndpoint,
  createOrganization,
  receiverChannel,
} from "../../support/api";

/**
 * Request fields that may be left out state their default in the description (`Default: \`…\``,
 * api/app.ts `defaultsTo`) rather than as JSON Schema `default`; these tests hold the service to
 * what the document says, field by field.
 */

// biome-ignore lint/suspicious/noExplicitAny: the document is walked field by field
type Json = any;

async function requestSchema(path: string, method: string): Promise<Json> {
  const doc: Json = await (await call("GET", "/openapi.json")).json();
  const schema = doc.paths[path][method].requestBody.content["application/json"].schema;
  return schema.$ref ? doc.components.schemas[schema.$ref.split("/").pop()] : schema;
}

/** Each optional field's documented default, parsed. */
function documentedDefaults(schema: Json): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries<Json>(schema.properties).flatMap(([name, property]) => {
      const match = /Default: `(.*)`$/.exec(property.description ?? "");
      return match?.[1] ? [[name, JSON.parse(match[1])]] : [];
    }),
  );
}

describe("request defaults", () => {
  it("gives an endpoint created with only its URL and filters every documented default", async () => {
    const defaults = documentedDefaults(await requestSchema("/webhooks/v1/endpoints", "post"));
    expect(Object.keys(defaults).sort()).toEqual(
      [
        "description",
        "headers",
        "ordering",
        "payloadFilter",
        "payloadFormat",
        "rateLimitPerSecond",
        "resourceScopes",
        "retrySchedule",
        "signatureAlgorithm",
        "signatureScheme",
        "timeoutMs",
      ].sort(),
    );
    const org = await createOrganization();
    const { endpoint } = await createEndpoint(org.token, {
      url: receiverChannel().url,
      eventTypeFilters: ["*"],
    });
    expect(endpoint).toMatchObject(defaults);
    expect(defaults).toMatchObject({
      signatureScheme: "standard",
      payloadFormat: "full",
      timeoutMs: null,
      retrySchedule: null,
      ordering: "none",
    });
  });

  it("gives an API key created without scopes the documented ones", async () => {
    const defaults = documentedDefaults(await requestSchema("/admin/v1/organizations/{id}/api_keys", "post"));
    expect(defaults).toEqual({ scopes: ["*"] });
    const org = await createOrganization();
    const { apiKey } = await callOk("POST", `/admin/v1/organizations/${org.id}/api_keys`, 201, {
      token: ADMIN_TOKEN,
      body: { name: "no scopes" },
    });
    expect(apiKey.scopes).toEqual(defaults.scopes);
  });

  it("keeps the previous secret for the documented grace when a rotation names none", async () => {
    const defaults = documentedDefaults(
      await requestSchema("/webhooks/v1/endpoints/{id}/rotate_secret", "post"),
    );
    expect(defaults).toEqual({ previousSecretExpiresInSec: 86_400 });
    const org = await createOrganization();
    const { endpoint } = await createEndpoint(org.token, {
      url: receiverChannel().url,
      eventTypeFilters: ["*"],
    });
    // Without a body, and with an empty one.
    for (const options of [{}, { body: {} }]) {
      const before = Date.now();
      const rotated = await callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/rotate_secret`, 200, {
        token: org.token,
        ...options,
      });
      const graceMs = Date.parse(rotated.previousSecretExpiresAt) - before;
      // The service reads its clock after `before`; the call takes far less than 10 s.
      expect(graceMs).toBeGreaterThanOrEqual(86_400_000);
      expect(graceMs).toBeLessThan(86_400_000 + 10_000);
    }
  });

  it("sends a test message of the documented type when the body names none", async () => {
    const defaults = documentedDefaults(await requestSchema("/webhooks/v1/endpoints/{id}/test", "post"));
    expect(defaults).toEqual({ eventType: "webhook.test" });
    const org = await createOrganization();
    const receiver = receiverChannel();
    const { endpoint } = await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["*"] });
    await callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/test`, 200, { token: org.token, body: {} });
    const [request] = await receiver.received();
    expect(JSON.parse(request?.body ?? "{}").type).toBe(defaults.eventType);
  });
});
