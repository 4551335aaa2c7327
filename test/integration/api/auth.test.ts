import { describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  call,
  callOk,
  createEndpoint,
  createOrganization,
  receiverChannel,
} from "../../support/api";

async function expectProblem(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await response.json<{ status: number; title: string; detail: string }>();
  expect(problem).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  return problem;
}

describe("authentication", () => {
  it("answers 401 problem+json without a token, with a wrong one, and with a revoked key", async () => {
    await expectProblem(await call("GET", "/webhooks/v1/endpoints"), 401);
    await expectProblem(await call("GET", "/webhooks/v1/endpoints", { token: "sk_not-a-real-key" }), 401);
    await expectProblem(
      await call("GET", "/webhooks/v1/endpoints", { headers: { authorization: "Basic abc" } }),
      401,
    );

    const org = await createOrganization();
    const { apiKey, token } = await callOk("POST", `/admin/v1/organizations/${org.id}/api_keys`, 201, {
      token: ADMIN_TOKEN,
      body: { name: "to revoke" },
    });
    await callOk("GET", "/webhooks/v1/endpoints", 200, { token });
    await callOk("DELETE", `/admin/v1/api_keys/${apiKey.id}`, 204, { token: ADMIN_TOKEN });
    await expectProblem(await call("GET", "/webhooks/v1/endpoints", { token }), 401);
    // The organization's other key still works.
    await callOk("GET", "/webhooks/v1/endpoints", 200, { token: org.token });
  });

  it("keeps organization keys out of /admin and away from publishing", async () => {
    const org = await createOrganization();
    await expectProblem(await call("GET", "/admin/v1/organizations", { token: org.token }), 401);
    await expectProblem(
      await call("POST", "/webhooks/v1/events", {
        token: org.token,
        body: { organizationId: org.id, type: "webhook.test", data: {} },
      }),
      401,
    );
    await expectProblem(await call("GET", "/admin/v1/organizations", { token: "wrong-admin-token" }), 401);
  });

  it("rejects the admin token where an organization key is expected", async () => {
    await expectProblem(await call("GET", "/webhooks/v1/endpoints", { token: ADMIN_TOKEN }), 401);
  });
});

describe("tenant isolation", () => {
  it("answers 404 for another organization's endpoint and delivery, and changes nothing", async () => {
    const a = await createOrganization("A");
    const b = await createOrganization("B");
    const { endpoint } = await createEndpoint(a.token, {
      url: receiverChannel().url,
      eventTypeFilters: ["*"],
    });

    await expectProblem(await call("GET", `/webhooks/v1/endpoints/${endpoint.id}`, { token: b.token }), 404);
    await expectProblem(
      await call("PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, {
        token: b.token,
        body: { description: "mine" },
      }),
      404,
    );
    await expectProblem(
      await call("DELETE", `/webhooks/v1/endpoints/${endpoint.id}`, { token: b.token }),
      404,
    );
    expect((await callOk("GET", "/webhooks/v1/endpoints", 200, { token: b.token })).data).toEqual([]);

    const { endpoint: unchanged } = await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}`, 200, {
      token: a.token,
    });
    expect(unchanged).toEqual(endpoint);
  });
});
