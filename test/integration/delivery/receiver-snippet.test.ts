import { describe, expect, it } from "vitest";
import receivingDoc from "../../../docs/receiving.md?raw";
import { createWebhookHandler } from "../../../examples/receivers/node.mjs";
import snippet from "../../../examples/receivers/node.mjs?raw";
import {
  createEndpoint,
  createOrganization,
  publish,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";

describe("the Node receiver of docs/receiving.md", () => {
  it("is shown in docs/receiving.md exactly as tested", () => {
    expect(receivingDoc).toContain(snippet.trim());
  });

  it("accepts a real delivery and refuses a tampered one", async () => {
    const org = await createOrganization();
    const receiver = receiverChannel();
    const { signingSecret } = await createEndpoint(org.token, {
      url: receiver.url,
      eventTypeFilters: ["matter.*"],
    });
    const event = await publish(org.id, "matter.created", { matterId: "m", name: "n" });
    await settledDeliveries(org.token, `event_id=${event.id}`, 1);
    const [delivery] = await receiver.received();
    const handle = createWebhookHandler(signingSecret);
    const asRequest = (body: string) =>
      new Request("https://receiver.example/webhooks", { method: "POST", headers: delivery?.headers, body });

    expect((await handle(asRequest(delivery?.body ?? ""))).status).toBe(204);
    expect((await handle(asRequest((delivery?.body ?? "").replace('"n"', '"N"')))).status).toBe(400);
    expect(
      (await createWebhookHandler("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")(asRequest(delivery?.body ?? "")))
        .status,
    ).toBe(400);
  });
});
