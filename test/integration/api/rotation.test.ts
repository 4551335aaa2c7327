import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { call, callOk } from "../../support/api";
import { convoySignature } from "../../support/convoy";
import {
  givenEndpoint,
  type Organization,
  publishSettled,
  type Receiver,
  rotateSecret,
} from "../../support/fixtures";

async function deliverOne(org: Organization, receiver: Receiver) {
  const before = (await receiver.received()).length;
  await publishSettled(org);
  const received = await receiver.received();
  expect(received).toHaveLength(before + 1);
  return received.at(-1) as { body: string; headers: Record<string, string> };
}

const verifies = (secret: string, request: { body: string; headers: Record<string, string> }) => {
  try {
    new Webhook(secret).verify(request.body, request.headers);
    return true;
  } catch {
    return false;
  }
};

describe("secret rotation", () => {
  it("signs with both secrets during the grace window, then only with the new one", async () => {
    const { org, receiver, endpoint, signingSecret: oldSecret } = await givenEndpoint();

    const rotated = await rotateSecret(org, endpoint.id, 3_600);
    const newSecret: string = rotated.signingSecret;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);

    const during = await deliverOne(org, receiver);
    expect(during.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(verifies(oldSecret, during)).toBe(true);
    expect(verifies(newSecret, during)).toBe(true);

    // The grace window ends (moved into the past rather than waited for, so a slow delivery above
    // cannot outlast it). No job runs at expiry: the old secret simply stops being read.
    await env.DB.prepare(
      "UPDATE endpoint_secrets SET expires_at = ? WHERE endpoint_id = ? AND expires_at = ?",
    )
      .bind(new Date(Date.now() - 1_000).toISOString(), endpoint.id, rotated.previousSecretExpiresAt)
      .run();
    const after = await deliverOne(org, receiver);
    expect(after.headers["webhook-signature"]?.split(" ")).toHaveLength(1);
    expect(verifies(newSecret, after)).toBe(true);
    expect(verifies(oldSecret, after)).toBe(false);
  });

  it("drops the old secret at once with previousSecretExpiresInSec: 0, and signs Convoy deliveries the same way", async () => {
    const { org, receiver, endpoint } = await givenEndpoint({ signatureScheme: "convoy" });
    await rotateSecret(org, endpoint.id, 60);
    const twoSecrets = await deliverOne(org, receiver);
    expect(twoSecrets.headers["webhooks-signature"]).toMatch(/^t=\d+,v1=[^,]+,v1=[^,]+$/);

    const { signingSecret } = await rotateSecret(org, endpoint.id, 0);
    const oneSecret = await deliverOne(org, receiver);
    const header = oneSecret.headers["webhooks-signature"] ?? "";
    expect(header).toMatch(/^t=\d+,v1=[^,]+$/);
    const t = header.split(",")[0]?.slice(2);
    expect(header.split("v1=")[1]).toBe(await convoySignature(signingSecret, t ?? "", oneSecret.body));
  });

  it("defaults the grace window to a day, validates its range and never shows a secret afterwards", async () => {
    const { org, endpoint } = await givenEndpoint({ filters: ["*"] });
    const before = Date.now();
    const rotated = await rotateSecret(org, endpoint.id);
    const after = Date.now();
    // A day after the request, whenever within it the service read the clock.
    const expiresAt = Date.parse(rotated.previousSecretExpiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 86_400_000);
    expect(expiresAt).toBeLessThanOrEqual(after + 86_400_000);

    const tooLong = await call("POST", `/webhooks/v1/endpoints/${endpoint.id}/rotate_secret`, {
      token: org.token,
      body: { previousSecretExpiresInSec: 2_592_001 },
    });
    expect(tooLong.status).toBe(422);
    const read = JSON.stringify(
      await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}`, 200, { token: org.token }),
    );
    expect(read).not.toContain(rotated.signingSecret);
  });
});
