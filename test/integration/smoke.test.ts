import { describe, expect, it } from "vitest";
import {
  callOk,
  createEndpoint,
  createOrganization,
  eventually,
  publish,
  receiverChannel,
} from "../support/api";

describe("smoke", () => {
  it("delivers", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["*"] });
    const event = await publish(org.id, "matter.created", { matterId: "m1", name: "x" });
    const got = await eventually(async () => {
      const r = await receiver.received();
      return r.length > 0 ? r : undefined;
    });
    expect(JSON.parse(got[0]!.body).id).toBe(event.id);
    const d = await callOk("GET", `/webhooks/v1/deliveries?event_id=${event.id}`, 200, { token: org.token });
    console.log(JSON.stringify(d));
  });
});
