import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { signConvoy } from "../../../src/signing/convoy";
import { generateSigningSecret } from "../../../src/signing/secrets";
import { signStandardWebhooks } from "../../../src/signing/standard-webhooks";

describe("Standard Webhooks signing", () => {
  it("matches the published test vector byte for byte", async () => {
    const signature = await signStandardWebhooks(
      ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
      "msg_p5jXN8AQM9LWM0D4loKWxJek",
      1614265330,
      '{"test": 2432232314}',
    );
    expect(signature).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("signs once per live secret, and the standardwebhooks package accepts either secret", async () => {
    const [current, previous] = [generateSigningSecret(), generateSigningSecret()];
    const timestamp = Math.floor(Date.now() / 1000);
    const body = '{"id":"evt_1","type":"matter.created"}';
    const signature = await signStandardWebhooks([current, previous], "evt_1", timestamp, body);
    expect(signature.split(" ")).toHaveLength(2);
    const headers = {
      "webhook-id": "evt_1",
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signature,
    };
    for (const secret of [current, previous]) {
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    }
    expect(() => new Webhook(generateSigningSecret()).verify(body, headers)).toThrow();
  });

  it("issues secrets of 24 random bytes behind whsec_", () => {
    const secret = generateSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(generateSigningSecret()).not.toBe(secret);
  });
});

describe("Convoy signing", () => {
  it("matches Convoy's published vector byte for byte", async () => {
    const body = '{"event":"charge.success","amount":1000,"currency":"NGN"}';
    expect(await signConvoy(["convoy-webhook-secret"], 1700000000, body)).toBe(
      "t=1700000000,v1=d7i5Jp8loZmEalWivSWz+6FRxw/a5gux3Nh/u8lDxVw=",
    );
  });

  it("adds one v1 per extra live secret", async () => {
    const header = await signConvoy(["convoy-webhook-secret", "older-secret"], 1700000000, "{}");
    expect(header).toMatch(/^t=1700000000,v1=[^,]+,v1=[^,]+$/);
  });
});
