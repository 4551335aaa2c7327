import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, callOk, createEndpoint, createOrganization, receiverChannel } from "../../support/api";

// This project allows 5 live endpoints per organization and 3 per URL within one
// (MAX_ENDPOINTS_PER_ORGANIZATION, MAX_ENDPOINTS_PER_URL).

const create = (token: string, url: string) =>
  call("POST", "/webhooks/v1/endpoints", { token, body: { url, eventTypeFilters: ["matter.*"] } });

async function statuses(responses: Response[]) {
  const counted: Record<number, number> = {};
  for (const response of responses) counted[response.status] = (counted[response.status] ?? 0) + 1;
  return counted;
}

async function expectConflict(response: Response, variable: string) {
  expect(response.status).toBe(409);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await response.json<{ detail: string; errors?: { path: string }[] }>();
  expect(problem.detail).toContain(variable);
  return problem;
}

/** Live endpoints of the organization, and their secrets. */
async function stored(organizationId: string) {
  const row = await env.DB.prepare(
    `SELECT (SELECT COUNT(*) FROM endpoints WHERE organization_id = ?1 AND deleted_at IS NULL) AS endpoints,
            (SELECT COUNT(*) FROM endpoint_secrets s JOIN endpoints e ON e.id = s.endpoint_id
              WHERE e.organization_id = ?1) AS secrets,
            (SELECT COUNT(*) FROM endpoint_secrets WHERE endpoint_id NOT IN (SELECT id FROM endpoints)) AS orphans`,
  )
    .bind(organizationId)
    .first<{ endpoints: number; secrets: number; orphans: number }>();
  return row;
}

describe("caps on live endpoints", () => {
  it("lets no more than the organization's cap through when 20 creates race, and leaves no secret behind", async () => {
    const org = await createOrganization();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => create(org.token, receiverChannel().url)),
    );
    expect(await statuses(responses)).toEqual({ 201: 5, 409: 15 });
    const refused = responses.find((r) => r.status === 409) as Response;
    await expectConflict(refused, "MAX_ENDPOINTS_PER_ORGANIZATION");
    expect(await stored(org.id)).toEqual({ endpoints: 5, secrets: 5, orphans: 0 });

    // A deleted endpoint frees its place; another organization has its own.
    const [first] = (await callOk("GET", "/webhooks/v1/endpoints", 200, { token: org.token })).data;
    await callOk("DELETE", `/webhooks/v1/endpoints/${first.id}`, 204, { token: org.token });
    expect((await create(org.token, receiverChannel().url)).status).toBe(201);
    await expectConflict(await create(org.token, receiverChannel().url), "MAX_ENDPOINTS_PER_ORGANIZATION");
    const other = await createOrganization();
    expect((await create(other.token, receiverChannel().url)).status).toBe(201);
  });

  it("caps the endpoints with one URL, on create and on a PATCH that moves an endpoint there", async () => {
    const org = await createOrganization();
    const full = receiverChannel().url;
    const racing = await Promise.all(Array.from({ length: 10 }, () => create(org.token, full)));
    expect(await statuses(racing)).toEqual({ 201: 3, 409: 7 });
    const problem = await expectConflict(
      racing.find((r) => r.status === 409) as Response,
      "MAX_ENDPOINTS_PER_URL",
    );
    expect(problem.errors?.map((e) => e.path)).toEqual(["url"]);

    const { endpoint: elsewhere } = await createEndpoint(org.token, {
      url: receiverChannel().url,
      eventTypeFilters: ["matter.*"],
    });
    const move = () =>
      call("PATCH", `/webhooks/v1/endpoints/${elsewhere.id}`, { token: org.token, body: { url: full } });
    await expectConflict(await move(), "MAX_ENDPOINTS_PER_URL");
    const unchanged = await callOk("GET", `/webhooks/v1/endpoints/${elsewhere.id}`, 200, {
      token: org.token,
    });
    expect(unchanged.endpoint).toEqual(elsewhere);

    // Changing anything but the URL of an endpoint at a full URL is fine.
    const atFull = (await callOk("GET", "/webhooks/v1/endpoints", 200, { token: org.token })).data.filter(
      (e: { url: string }) => e.url === full,
    );
    await callOk("PATCH", `/webhooks/v1/endpoints/${atFull[0].id}`, 200, {
      token: org.token,
      body: { url: full, description: "same URL" },
    });
    await callOk("DELETE", `/webhooks/v1/endpoints/${atFull[1].id}`, 204, { token: org.token });
    expect((await move()).status).toBe(200);
    expect(await stored(org.id)).toMatchObject({ endpoints: 3, orphans: 0 });
  });
});
