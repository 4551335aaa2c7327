import { describe, expect, it } from "vitest";
import { call, callOk, createOrganization, eventually, publish, settledDeliveries } from "../../support/api";
import { givenEndpoint, matter, type Organization } from "../../support/fixtures";

// This project allows 3 deliveries replayed per endpoint per hour (REPLAYS_PER_ENDPOINT_PER_HOUR).

/** An endpoint whose receiver refuses everything (404), with `failed` failed deliveries, oldest first. */
async function failingEndpoint(org: Organization, failed: number) {
  const { endpoint } = await givenEndpoint({ org, fallback: { status: 404 } });
  const { token } = org;
  const deliveries = [];
  for (let i = 0; i < failed; i++) {
    const event = await publish(org.id, "matter.created", matter);
    // Earlier endpoints of the organization receive the event too: only this one's delivery counts.
    deliveries.push(
      ...(await settledDeliveries(token, `event_id=${event.id}&endpoint_id=${endpoint.id}`, 1)),
    );
  }
  return { endpoint, deliveries: deliveries as { id: string }[] };
}

describe("replay quota per endpoint", () => {
  it("lets recover replay as many as the quota allows, oldest first, then refuses replays with 429 and Retry-After", async () => {
    const org = await createOrganization();
    const { endpoint, deliveries } = await failingEndpoint(org, 4);
    const recoverPath = `/webhooks/v1/endpoints/${endpoint.id}/recover`;
    const since = "2020-01-01T00:00:00Z";

    const recovered = await callOk("POST", recoverPath, 202, { token: org.token, body: { since } });
    expect(recovered).toEqual({
      replayed: 3,
      nextCursor: deliveries[2]?.id,
      limitedBy: "quota",
      retryAfterSeconds: 1200, // an hour's 3 permits come back one every 20 minutes
    });
    const replays = (
      await callOk("GET", `/webhooks/v1/deliveries?endpoint_id=${endpoint.id}`, 200, { token: org.token })
    ).data.filter((d: { replayOf: string | null }) => d.replayOf !== null);
    expect(replays.map((d: { replayOf: string }) => d.replayOf).sort()).toEqual(
      deliveries
        .slice(0, 3)
        .map((d) => d.id)
        .sort(),
    );

    for (const [path, body] of [
      [`/webhooks/v1/deliveries/${deliveries[3]?.id}/replay`, {}],
      [recoverPath, { since, cursor: recovered.nextCursor }],
    ] as const) {
      const refused = await call("POST", path, { token: org.token, body });
      expect(refused.status, path).toBe(429);
      expect(refused.headers.get("content-type")).toBe("application/problem+json");
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(1_190);
      expect((await refused.json<{ detail: string }>()).detail).toContain("REPLAYS_PER_ENDPOINT_PER_HOUR");
    }
    // A window with nothing to replay asks for no permit: answered as usual, quota spent or not.
    const later = new Date().toISOString();
    await eventually(async () => new Date().toISOString() > later, 1_000);
    expect(await callOk("POST", recoverPath, 202, { token: org.token, body: { since: later } })).toEqual({
      replayed: 0,
      nextCursor: null,
      limitedBy: null,
    });
  });

  it("keeps each endpoint's quota apart, and counts single replays", async () => {
    const org = await createOrganization();
    const first = await failingEndpoint(org, 1);
    const second = await failingEndpoint(org, 1);
    const replay = (id?: string) =>
      call("POST", `/webhooks/v1/deliveries/${id}/replay`, { token: org.token });
    for (let i = 0; i < 3; i++) expect((await replay(first.deliveries[0]?.id)).status).toBe(202);
    expect((await replay(first.deliveries[0]?.id)).status).toBe(429);
    expect((await replay(second.deliveries[0]?.id)).status).toBe(202);
  });
});
