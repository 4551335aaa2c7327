import { describe, expect, it } from "vitest";
import { createWebhookHandler } from "../../../examples/receivers/node.mjs";
import snippet from "../../../examples/receivers/node.mjs?raw";
import readme from "../../../README.md?raw";
import { givenEndpoint, matter, publishSettled } from "../../support/fixtures";

describe("the README's Node receiver", () => {
  it("is shown in the README exactly as tested", () => {
    expect(readme).toContain(snippet.trim());
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
