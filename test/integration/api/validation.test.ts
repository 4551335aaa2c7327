import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newOrganizationId } from "../../../src/lib/ids";
import { ADMIN_TOKEN, call, createEndpoint, createOrganization, receiverChannel } from "../../support/api";
import { countOfOrganization } from "../../support/shards";

type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
};

async function expectProblem(response: Response, status: number): Promise<Problem> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await response.json<Problem>();
  expect(problem).toMatchObject({
    status,
    type: expect.stringMatching(/^https:\/\//),
    title: expect.any(String),
  });
  return problem;
}

const countRows = async (table: "events" | "endpoints", organizationId: string) =>
  table === "events"
    ? countOfOrganization(organizationId, "events")
    : ((await env.DB.prepare("SELECT COUNT(*) AS n FROM endpoints WHERE organization_id = ?")
        .bind(organizationId)
        .first<number>("n")) ?? 0);

describe("bad input on publish: problem+json 4xx, nothing stored", () => {
  const publish = (body: unknown, init: { rawBody?: string; headers?: Record<string, string> } = {}) =>
    call("POST", "/webhooks/v1/events", { token: ADMIN_TOKEN, body, ...init });

  it("malformed JSON is a 400", async () => {
    const org = await createOrganization();
    await expectProblem(
      await call("POST", "/webhooks/v1/events", {
        token: ADMIN_TOKEN,
        rawBody: `{"organizationId":"${org.id}","type":`,
        headers: { "content-type": "application/json" },
      }),
      400,
    );
    expect(await countRows("events", org.id)).toBe(0);
  });

  it("wrong types are a 422 naming each field", async () => {
    const org = await createOrganization();
    const problem = await expectProblem(await publish({ organizationId: org.id, type: 42, data: "x" }), 422);
    expect(problem.errors?.map((e) => e.path).sort()).toEqual(["data", "type"]);
    expect(await countRows("events", org.id)).toBe(0);
  });

  it("an unknown event type is a 422", async () => {
    const org = await createOrganization();
    const problem = await expectProblem(
      await publish({ organizationId: org.id, type: "vault.exploded", data: {} }),
      422,
    );
    expect(problem.errors).toEqual([{ path: "type", message: expect.stringContaining("catalog") }]);
    expect(await countRows("events", org.id)).toBe(0);
  });

  it("data that does not match the type's schema is a 422 pointing into data", async () => {
    const org = await createOrganization();
    const problem = await expectProblem(
      await publish({ organizationId: org.id, type: "matter.created", data: { matterId: 7 } }),
      422,
    );
    expect(problem.errors?.map((e) => e.path).sort()).toEqual(["data.matterId", "data.name"]);
    expect(await countRows("events", org.id)).toBe(0);
  });

  it("an unknown organization, or an id that is no organization's, is a 422", async () => {
    const data = { matterId: "m", name: "n" };
    const unknown = await expectProblem(
      await publish({ organizationId: newOrganizationId(), type: "matter.created", data }),
      422,
    );
    expect(unknown.errors).toEqual([{ path: "organizationId", message: "no such organization" }]);
    const malformed = await expectProblem(
      await publish({ organizationId: "org_nope", type: "matter.created", data }),
      422,
    );
    expect(malformed.errors).toEqual([
      { path: "organizationId", message: "must be an id of the form org_<ULID>" },
    ]);
  });

  it("an oversized payload is a 413", async () => {
    const org = await createOrganization();
    const huge = "x".repeat(70_000); // MAX_PAYLOAD_BYTES is 65536 in tests
    await expectProblem(await publish({ organizationId: org.id, type: "webhook.test", data: { huge } }), 413);
    expect(await countRows("events", org.id)).toBe(0);
  });

  it("a body that is not JSON is a 415", async () => {
    const org = await createOrganization();
    await expectProblem(
      await call("POST", "/webhooks/v1/events", {
        token: ADMIN_TOKEN,
        rawBody: `organizationId=${org.id}`,
        headers: { "content-type": "application/x-www-form-urlencoded" },
      }),
      415,
    );
    expect(await countRows("events", org.id)).toBe(0);
  });

  it("unknown fields are refused rather than silently dropped", async () => {
    const org = await createOrganization();
    const problem = await expectProblem(
      await publish({ organizationId: org.id, type: "webhook.test", data: {}, typo: true }),
      422,
    );
    expect(problem.errors?.[0]?.message).toMatch(/typo/);
  });

  it("an ordering key of no characters or more than 128 is a 422 naming it", async () => {
    const org = await createOrganization();
    for (const orderingKey of ["", "k".repeat(129)]) {
      const problem = await expectProblem(
        await publish({
          organizationId: org.id,
          type: "matter.created",
          data: { matterId: "m", name: "n" },
          orderingKey,
        }),
        422,
      );
      expect(problem.errors?.map((e) => e.path)).toEqual(["orderingKey"]);
    }
    expect(await countRows("events", org.id)).toBe(0);
  });
});

describe("bad input on endpoints", () => {
  it("a filter that matches no catalog type is a 422, and no endpoint is created", async () => {
    const org = await createOrganization();
    const problem = await expectProblem(
      await call("POST", "/webhooks/v1/endpoints", {
        token: org.token,
        body: { url: receiverChannel().url, eventTypeFilters: ["matter.*", "invoice.*"] },
      }),
      422,
    );
    expect(problem.errors).toEqual([
      { path: "eventTypeFilters.1", message: expect.stringContaining("invoice.*") },
    ]);
    expect(await countRows("endpoints", org.id)).toBe(0);
  });

  it("malformed filters, URLs, headers and settings are 422s naming each field", async () => {
    const org = await createOrganization();
    const problem = await expectProblem(
      await call("POST", "/webhooks/v1/endpoints", {
        token: org.token,
        body: {
          url: 12,
          eventTypeFilters: ["vault.**"],
          signatureScheme: "hmac",
          timeoutMs: 10,
          resourceScopes: { planetIds: ["earth"] },
        },
      }),
      422,
    );
    expect(problem.errors?.map((e) => e.path).sort()).toEqual([
      "eventTypeFilters.0",
      "resourceScopes",
      "signatureScheme",
      "timeoutMs",
      "url",
    ]);
    expect(await countRows("endpoints", org.id)).toBe(0);
  });

  it("a retry schedule out of the queue's bounds is a 422 naming the step", async () => {
    const org = await createOrganization();
    const refused = async (retrySchedule: unknown) =>
      (
        await expectProblem(
          await call("POST", "/webhooks/v1/endpoints", {
            token: org.token,
            body: { url: receiverChannel().url, eventTypeFilters: ["*"], retrySchedule },
          }),
          422,
        )
      ).errors?.map((e) => e.path);
    expect(await refused([])).toEqual(["retrySchedule"]);
    expect(await refused([1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual(["retrySchedule"]);
    expect(await refused([5, 0])).toEqual(["retrySchedule.1"]);
    expect(await refused([86_401])).toEqual(["retrySchedule.0"]);
    expect(await refused([1.5])).toEqual(["retrySchedule.0"]);
    expect(await refused("5,300")).toEqual(["retrySchedule"]);
    expect(await countRows("endpoints", org.id)).toBe(0);
  });

  it("an ordering other than none, endpoint or key is a 422 naming it, on create and PATCH", async () => {
    const org = await createOrganization();
    const created = await expectProblem(
      await call("POST", "/webhooks/v1/endpoints", {
        token: org.token,
        body: { url: receiverChannel().url, eventTypeFilters: ["*"], ordering: "fifo" },
      }),
      422,
    );
    expect(created.errors?.map((e) => e.path)).toEqual(["ordering"]);
    expect(await countRows("endpoints", org.id)).toBe(0);

    const { endpoint } = await createEndpoint(org.token, {
      url: receiverChannel().url,
      eventTypeFilters: ["*"],
    });
    const patched = await expectProblem(
      await call("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, {
        token: org.token,
        body: { ordering: "fifo" },
      }),
      422,
    );
    expect(patched.errors?.map((e) => e.path)).toEqual(["ordering"]);
  });

  it("a malformed payload filter is a 422 naming where in the filter, and writes nothing", async () => {
    const org = await createOrganization();
    const problem = await expectProblem(
      await call("POST", "/webhooks/v1/endpoints", {
        token: org.token,
        body: {
          url: receiverChannel().url,
          eventTypeFilters: ["*"],
          payloadFilter: {
            and: [
              { path: "$.status", eq: "open" },
              { path: "$.amount", gt: "100" },
              { path: "amount", exists: true },
            ],
          },
        },
      }),
      422,
    );
    expect(problem.errors).toEqual([
      { path: "payloadFilter.and.1.gt", message: expect.stringContaining("number") },
      { path: "payloadFilter.and.2.path", message: expect.any(String) },
    ]);
    const tooDeep = [1, 2, 3, 4, 5, 6, 7, 8].reduce<object>((f) => ({ not: f }), { path: "$", exists: true });
    const deep = await expectProblem(
      await call("POST", "/webhooks/v1/endpoints", {
        token: org.token,
        body: { url: receiverChannel().url, eventTypeFilters: ["*"], payloadFilter: tooDeep },
      }),
      422,
    );
    expect(deep.errors?.[0]?.message).toContain("at most 8");
    expect(await countRows("endpoints", org.id)).toBe(0);
  });

  it("custom headers may not override the signature or content headers", async () => {
    const org = await createOrganization();
    const problem = await expectProblem(
      await call("POST", "/webhooks/v1/endpoints", {
        token: org.token,
        body: {
          url: receiverChannel().url,
          eventTypeFilters: ["*"],
          headers: { "Webhook-Signature": "v1,forged", "Content-Type": "text/plain", "X-Tenant": "ok" },
        },
      }),
      422,
    );
    expect(problem.errors?.map((e) => e.path).sort()).toEqual([
      "headers.Content-Type",
      "headers.Webhook-Signature",
    ]);
  });

  it("a list with an out-of-range limit is a 422", async () => {
    const org = await createOrganization();
    await expectProblem(await call("GET", "/webhooks/v1/endpoints?limit=1000", { token: org.token }), 422);
  });

  it("an unknown route is a 404 problem", async () => {
    await expectProblem(await call("GET", "/webhooks/v1/nothing-here"), 404);
  });
});

describe("ids in paths", () => {
  it("answer 404 for anything that is not an id of the route's kind, as for another organization's", async () => {
    const org = await createOrganization();
    for (const path of [
      "/webhooks/v1/endpoints/nope",
      `/webhooks/v1/endpoints/${newOrganizationId()}`, // an id, of another kind
      "/webhooks/v1/deliveries/evsub_01J0000000000000000000000Z",
      "/webhooks/v1/events/evt_short",
    ]) {
      const response = await call("GET", path, { token: org.token });
      expect(response.status, path).toBe(404);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    }
  });
});
