import { validate } from "@hyperjump/json-schema/openapi-3-1";
import { describe, expect, it } from "vitest";
import { license } from "../../../package.json";
import { call } from "../../support/api";

/**
 * Every route the Worker serves, as OpenAPI paths, with its operationId: generated clients name their
 * methods after it, so a rename breaks integrators' code. A new route must be added here and to the document.
 */
const OPERATIONS: Record<string, string> = {
  "post /admin/v1/organizations": "createOrganization",
  "get /admin/v1/organizations": "listOrganizations",
  "post /admin/v1/organizations/{id}/api_keys": "createApiKey",
  "post /admin/v1/organizations/{id}/portal_sessions": "createOrganizationPortalSession",
  "delete /admin/v1/api_keys/{id}": "revokeApiKey",
  "post /admin/v1/secrets/reencrypt": "reencryptSecrets",
  "post /admin/v1/operational_endpoints": "createOperationalEndpoint",
  "get /admin/v1/operational_endpoints": "listOperationalEndpoints",
  "delete /admin/v1/operational_endpoints/{id}": "deleteOperationalEndpoint",
  "post /admin/v1/operational_endpoints/{id}/rotate_secret": "rotateOperationalEndpointSecret",
  "post /webhooks/v1/events": "publishEvent",
  "get /webhooks/v1/events": "listEvents",
  "get /webhooks/v1/events/{id}": "getEvent",
  "get /webhooks/v1/event_types": "listEventTypes",
  "post /webhooks/v1/endpoints": "createEndpoint",
  "get /webhooks/v1/endpoints": "listEndpoints",
  "get /webhooks/v1/endpoints/{id}": "getEndpoint",
  "patch /webhooks/v1/endpoints/{id}": "updateEndpoint",
  "delete /webhooks/v1/endpoints/{id}": "deleteEndpoint",
  "post /webhooks/v1/endpoints/{id}/rotate_secret": "rotateEndpointSecret",
  "post /webhooks/v1/endpoints/{id}/test": "testEndpoint",
  "post /webhooks/v1/endpoints/{id}/recover": "recoverEndpoint",
  "get /webhooks/v1/endpoints/{id}/health": "getEndpointHealth",
  "get /webhooks/v1/endpoints/{id}/lanes": "listEndpointLanes",
  "get /webhooks/v1/endpoints/{id}/lanes/queue": "getEndpointLane",
  "get /webhooks/v1/deliveries": "listDeliveries",
  "get /webhooks/v1/deliveries/{id}": "getDelivery",
  "post /webhooks/v1/deliveries/{id}/replay": "replayDelivery",
  "post /webhooks/v1/portal_sessions": "createPortalSession",
  "get /webhooks/v1/jwks/{id}": "getEndpointJwks",
};

type Response = { headers?: Record<string, unknown>; content?: Record<string, unknown> };
type Operation = {
  operationId?: string;
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, Response>;
};
type Document = {
  openapi: string;
  info: { license?: { name: string } };
  servers?: { url: string }[];
  components: { schemas: Record<string, unknown> };
  paths: Record<string, Record<string, Operation>>;
};

async function openApiDocument(): Promise<Document> {
  const response = await call("GET", "/openapi.json");
  expect(response.status).toBe(200);
  return response.json<Document>();
}

const operations = (doc: Document) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ route: `${method} ${path}`, operation })),
  );

/** `value` and every component schema it refers to, directly or through another. */
function withReferenced(doc: Document, value: unknown, seen = new Set<string>()): unknown[] {
  const names = [...JSON.stringify(value).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map(
    ([, n]) => n ?? "",
  );
  const fresh = names.filter((name) => !seen.has(name));
  for (const name of fresh) seen.add(name);
  return [value, ...fresh.flatMap((name) => withReferenced(doc, doc.components.schemas[name], seen))];
}

describe("OpenAPI document", () => {
  it("is valid OpenAPI 3.1 and names every route's operation as pinned", async () => {
    const doc = await openApiDocument();
    expect(doc.openapi).toBe("3.1.0");

    const output = await validate("https://spec.openapis.org/oas/3.1/schema-base", doc as never);
    expect(output.valid, JSON.stringify(output).slice(0, 2000)).toBe(true);
    // The validator is not vacuous: the same document without its required `info` fails.
    const { info: _info, ...withoutInfo } = doc as Record<string, unknown>;
    expect(
      (await validate("https://spec.openapis.org/oas/3.1/schema-base", withoutInfo as never)).valid,
    ).toBe(false);

    const named = Object.fromEntries(
      operations(doc).map(({ route, operation }) => [route, operation.operationId]),
    );
    expect(named).toEqual(OPERATIONS);
  });

  it("is the document committed in test/support/openapi, which the lint and the client types read", async () => {
    // `npm run lint` lints that file with redocly (recommended rules) and `npm run typecheck` checks the
    // client types generated from it; after changing the API, `npm run openapi` rewrites both.
    const doc = await openApiDocument();
    await expect(`${JSON.stringify(doc, null, 2)}\n`).toMatchFileSnapshot(
      "../../support/openapi/openapi.json",
    );
  });

  it("is served by the deployment it describes, under package.json's license", async () => {
    const doc = await openApiDocument();
    expect(doc.servers).toEqual([{ url: "/", description: expect.any(String) }]);
    expect(doc.info.license?.name).toBe(license);
  });

  it("lists the errors each route can answer, and only those", async () => {
    for (const { route, operation } of operations(await openApiDocument())) {
      const statuses = Object.keys(operation.responses);
      const takesInput = Boolean(operation.parameters?.length || operation.requestBody);
      // Every route is behind a throttled credential (api/auth.ts), but a public one (an endpoint's
      // JWKS), throttled per address.
      const isPublic = route === "get /webhooks/v1/jwks/{id}";
      expect(statuses, route).toEqual(expect.arrayContaining(isPublic ? ["429"] : ["401", "429"]));
      expect(statuses.includes("401"), route).toBe(!isPublic);
      expect(operation.responses["429"]?.headers, route).toHaveProperty("Retry-After");
      expect(statuses.includes("422"), `${route}: 422 iff it takes input`).toBe(takesInput);
      // 413 and 415 come from reading a body (jsonBodyOnly in api/app.ts).
      expect(statuses.includes("413"), `${route}: 413 iff it takes a body`).toBe(
        Boolean(operation.requestBody),
      );
      expect(statuses.includes("415"), `${route}: 415 iff it takes a body`).toBe(
        Boolean(operation.requestBody),
      );
      for (const status of statuses.filter((s) => Number(s) >= 400)) {
        expect(Object.keys(operation.responses[status]?.content ?? {}), `${route} ${status}`).toEqual([
          "application/problem+json",
        ]);
      }
    }
  });

  it("leaves request fields with a default optional, stating the default instead of `default`", async () => {
    // openapi-typescript, with its default settings, makes a property with a JSON Schema `default`
    // required in a named schema: a generated client could not leave it out (api/app.ts `defaultsTo`).
    const doc = await openApiDocument();
    const bodies = operations(doc).filter(({ operation }) => operation.requestBody);
    expect(bodies.length).toBeGreaterThan(5);
    for (const { route, operation } of bodies) {
      for (const schema of withReferenced(doc, operation.requestBody)) {
        expect(JSON.stringify(schema), route).not.toContain('"default":');
      }
    }
  });
});
