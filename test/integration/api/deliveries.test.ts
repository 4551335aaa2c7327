import { describe, expect, it } from "vitest";
import { callOk, createEndpoint, createOrganization, eventually, receiverChannel } from "../../support/api";
import { publishSettled } from "../../support/fixtures";

const ids = (page: { data: { id: string }[] }) => page.data.map((d) => d.id);

describe("listing deliveries", () => {
  it("filters by endpoint, event, type, status and creation window", async () => {
    const org = await createOrganization();
    const ok = receiverChannel();
    const refusing = receiverChannel();
    await refusing.script([], { status: 404 });
    const { endpoint: okEndpoint } = await createEndpoint(org.token, {
      url: ok.url,
      eventTypeFilters: ["*"],
    });
    const { endpoint: refusingEndpoint } = await createEndpoint(org.token, {
      url: refusing.url,
      eventTypeFilters: ["*"],
    });

    const { event: created } = await publishSettled(org, { count: 2 });
    await eventually(async () => Date.now() > Date.parse(created.occurredAt) + 5, 1_000);
    const between = new Date().toISOString();
    const { event: updated } = await publishSettled(org, {
      type: "matter.updated",
      data: { matterId: "m", changes: [] },
      count: 2,
    });

    const list = (query: string) =>
      callOk("GET", `/webhooks/v1/deliveries?${query}`, 200, { token: org.token });
    const all = await list("");
    expect(all.data).toHaveLength(4);
    const byEndpoint = await list(`endpoint_id=${refusingEndpoint.id}`);
    expect(byEndpoint.data.every((d: { endpointId: string }) => d.endpointId === refusingEndpoint.id)).toBe(
      true,
    );
    expect(byEndpoint.data).toHaveLength(2);
    expect((await list("status=failed")).data.map((d: { endpointId: string }) => d.endpointId)).toEqual([
      refusingEndpoint.id,
      refusingEndpoint.id,
    ]);
    expect(ids(await list(`status=delivered&endpoint_id=${okEndpoint.id}`))).toHaveLength(2);
    expect((await list("event_type=matter.updated")).data.map((d: { eventId: string }) => d.eventId)).toEqual(
      [updated.id, updated.id],
    );
    expect((await list(`since=${between}`)).data.map((d: { eventId: string }) => d.eventId)).toEqual([
      updated.id,
      updated.id,
    ]);
    expect((await list(`until=${between}`)).data.map((d: { eventId: string }) => d.eventId)).toEqual([
      created.id,
      created.id,
    ]);
    await callOk("GET", "/webhooks/v1/deliveries?status=lost", 422, { token: org.token });
    await callOk("GET", "/webhooks/v1/deliveries?since=yesterday", 422, { token: org.token });
  });
});
