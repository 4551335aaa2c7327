import { validate } from "@hyperjump/json-schema/openapi-3-1";
import { describe, expect, it } from "vitest";
import { call } from "../../support/api";

/** Every route the Worker serves, as OpenAPI paths; a new route must be added here and to the document. */
const ROUTES = [
  "post /admin/v1/organizations",
  "get /admin/v1/organizations",
  "post /admin/v1/organizations/{id}/api_keys",
  "delete /admin/v1/api_keys/{id}",
  "post /admin/v1/secrets/reencrypt",
  "post /webhooks/v1/events",
  "get /webhooks/v1/events",
  "get /webhooks/v1/events/{id}",
  "get /webhooks/v1/event_types",
  "post /webhooks/v1/endpoints",
  "get /webhooks/v1/endpoints",
  "get /webhooks/v1/endpoints/{id}",
  "patch /webhooks/v1/endpoints/{id}",
  "delete /webhooks/v1/endpoints/{id}",
  "post /webhooks/v1/endpoints/{id}/rotate_secret",
  "post /webhooks/v1/endpoints/{id}/test",
  "post /webhooks/v1/endpoints/{id}/recover",
  "get /webhooks/v1/endpoints/{id}/health",
  "get /webhooks/v1/deliveries",
  "get /webhooks/v1/deliveries/{id}",
  "post /webhooks/v1/deliveries/{id}/replay",
];

describe("OpenAPI document", () => {
  it("is valid OpenAPI 3.1 and lists every route", async () => {
    const response = await call("GET", "/openapi.json");
    expect(response.status).toBe(200);
    const doc = await response.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    expect(doc.openapi).toBe("3.1.0");

    const output = await validate("https://spec.openapis.org/oas/3.1/schema-base", doc as never);
    expect(output.valid, JSON.stringify(output).slice(0, 2000)).toBe(true);
    // The validator is not vacuous: the same document without its required `info` fails.
    const { info: _info, ...withoutInfo } = doc as Record<string, unknown>;
    expect(
      (await validate("https://spec.openapis.org/oas/3.1/schema-base", withoutInfo as never)).valid,
    ).toBe(false);

    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method} ${path}`),
    );
    expect(documented.sort()).toEqual([...ROUTES].sort());
  });

  it("serves a browsable reference at /docs", async () => {
    const response = await call("GET", "/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/text\/html/);
    expect(await response.text()).toContain('data-url="/openapi.json"');
  });
});
