import { describe, expect, it } from "vitest";
import receivingDoc from "../../../docs/receiving.md?raw";
import { createWebhookHandler } from "../../../examples/receivers/node.mjs";
import snippet from "../../../examples/receivers/node.mjs?raw";
import { givenEndpoint, matter, publishSettled } from "../../support/fixtures";

describe("the Node receiver of docs/receiving.md", () => {
  it("is shown in docs/receiving.md exactly as tested", () => {
    expect(receivingDoc).toContain(snippet.trim());
  });

  it("accepts a real delivery and refuses a tampered one", async () => {
    const { org, receiver, signingSecret } = await givenEndpoint();
    await publishSettled(org);
    const [delivery] = await receiver.received();
    const handle = createWebhookHandler(signingSecret);
    const asRequest = (body: string) =>
      new Request("https://receiver.example/webhooks", { method: "POST", headers: delivery?.headers, body });

    const body = delivery?.body ?? "";
    expect((await handle(asRequest(body))).status).toBe(204);
    const tampered = body.replace(matter.name, "Someone else");
    expect(tampered).not.toBe(body);
    expect((await handle(asRequest(tampered))).status).toBe(400);
    const otherSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    expect((await createWebhookHandler(otherSecret)(asRequest(body))).status).toBe(400);
  });
});
