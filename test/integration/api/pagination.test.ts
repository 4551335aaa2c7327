import { describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  callOk,
  createEndpoint,
  createOrganization,
  eventually,
  publish,
  publishRpc,
  receiverChannel,
} from "../../support/api";

/** Follows `nextCursor` from the first page to the last, returning every id in order. */
async function walk(path: string, token: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const page = await callOk(
      "GET",
      `${path}${separator}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`,
      200,
      {
        token,
      },
    );
    expect(page.data.length).toBeLessThanOrEqual(limit);
    ids.push(...page.data.map((item: { id: string }) => item.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

describe("cursor pagination", () => {
  // Some 400 requests one after another: about 20 s alone, more on a loaded machine.
  it("walks 120 events, endpoints and deliveries newest first with no duplicates or gaps", async () => {
    const org = await createOrganization();

    const eventIds: string[] = [];
    for (let i = 0; i < 120; i++) {
      const result = await publishRpc({
        organizationId: org.id,
        type: "webhook.test",
        data: { i },
      });
      if (result.ok) eventIds.push(result.event.id);
    }
    expect(eventIds).toHaveLength(120);
    expect(await walk("/webhooks/v1/events", org.token, 7)).toEqual([...eventIds].reverse());

    const endpointIds: string[] = [];
    const url = receiverChannel().url;
    for (let i = 0; i < 120; i++) {
      endpointIds.push(
        (await createEndpoint(org.token, { url, eventTypeFilters: ["matter.*"] })).endpoint.id,
      );
    }
    expect(await walk("/webhooks/v1/endpoints", org.token, 13)).toEqual([...endpointIds].reverse());

    // One event to 120 endpoints: 120 deliveries made in the same instant.
    const event = await publish(org.id, "matter.created", { matterId: "m", name: "n" });
    // A delivery is listed once its first attempt is recorded: walk again until all 120 are.
    const walked = await eventually(async () => {
      const ids = await walk(`/webhooks/v1/deliveries?event_id=${event.id}`, org.token, 9);
      return ids.length === 120 && ids;
    }, 25_000);
    expect(new Set(walked).size).toBe(120);
    expect(walked).toEqual([...walked].sort().reverse());
    const all = await walk("/webhooks/v1/deliveries", org.token, 100);
    expect(all).toEqual(walked);
  }, 60_000);

  it("rejects limits outside 1..100", async () => {
    const org = await createOrganization();
    for (const limit of ["0", "101", "abc"]) {
      const page = await callOk("GET", `/webhooks/v1/events?limit=${limit}`, 422, { token: org.token });
      expect(page.errors[0].path).toBe("query.limit");
    }
  });

  it("validates every list's cursor the same way: an id of the kind the list holds", async () => {
    const org = await createOrganization();
    const event = await publish(org.id, "webhook.test", {});
    const lists = [
      ["/admin/v1/organizations", ADMIN_TOKEN, org.id],
      ["/webhooks/v1/endpoints", org.token, "evsub_01JTESTTESTTESTTESTTESTTES"],
      ["/webhooks/v1/events", org.token, event.id],
      ["/webhooks/v1/deliveries", org.token, `dlv_${event.id.slice(4)}`],
    ] as const;
    for (const [path, token, valid] of lists) {
      await callOk("GET", `${path}?cursor=${valid}`, 200, { token });
      const otherKind = valid === org.id ? event.id : org.id;
      for (const cursor of ["garbage", `${valid}x`, valid.toLowerCase(), otherKind]) {
        const problem = await callOk("GET", `${path}?cursor=${encodeURIComponent(cursor)}`, 422, { token });
        expect(problem.errors, `${path} ${cursor}`).toEqual([
          { path: "query.cursor", message: expect.stringContaining("must be an id") },
        ]);
      }
    }
  });
});
