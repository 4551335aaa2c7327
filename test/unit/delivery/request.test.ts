import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { buildSignedRequest, type RequestInput } from "../../../src/delivery/request";
import { generateSigningSecret } from "../../../src/signing/secrets";

const secret = generateSigningSecret();
const input = (overrides: Partial<RequestInput> = {}): RequestInput => ({
  endpoint: { url: "https://example.com/hook", signatureScheme: "standard", payloadFormat: "full" },
  credentials: { secrets: [secret], headers: {} },
  content: {
    eventId: "evt_1",
    eventType: "matter.created",
    occurredAt: "2026-01-01T00:00:00.000Z",
    data: { matterId: "m" },
    resources: { matter: "m" },
  },
  deliveryId: "dlv_1",
  attemptNumber: 3,
  replayOf: null,
  payloadOverridden: false,
  timestamp: Math.floor(Date.now() / 1000),
  headerPrefix: "",
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  ...overrides,
});

describe("the signed request", () => {
  it("brands the Standard Webhooks header names with SIGNATURE_HEADER_PREFIX", async () => {
    const request = await buildSignedRequest(input({ headerPrefix: "case-" }));
    expect(Object.keys(request.headers)).toEqual(
      expect.arrayContaining(["case-webhook-id", "case-webhook-timestamp", "case-webhook-signature"]),
    );
    expect(request.headers["webhook-signature"]).toBeUndefined();
    // A receiver reading the branded names verifies with the standard library.
    const unbranded = {
      "webhook-id": request.headers["case-webhook-id"] ?? "",
      "webhook-timestamp": request.headers["case-webhook-timestamp"] ?? "",
      "webhook-signature": request.headers["case-webhook-signature"] ?? "",
    };
    expect(new Webhook(secret).verify(request.body, unbranded)).toMatchObject({ id: "evt_1" });
  });

  it("never lets custom headers override the service's own", async () => {
    const request = await buildSignedRequest(
      input({
        credentials: {
          secrets: [secret],
          headers: { "Content-Type": "text/plain", "webhook-attempt": "99", "X-Tenant": "acme" },
        },
      }),
    );
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["webhook-attempt"]).toBe("3");
    expect(request.headers["Content-Type"]).toBeUndefined();
    expect(request.headers["X-Tenant"]).toBe("acme");
  });

  it("leaves out hop-by-hop and proxy headers an endpoint stored before they were refused", async () => {
    const request = await buildSignedRequest(
      input({
        credentials: {
          secrets: [secret],
          headers: {
            "X-Forwarded-For": "10.0.0.1",
            Cookie: "s=1",
            "CF-Connecting-IP": "1.1.1.1",
            "X-Ok": "1",
          },
        },
      }),
    );
    expect(Object.keys(request.headers).filter((name) => /^(x-|cookie|cf-)/i.test(name))).toEqual(["X-Ok"]);
  });

  it("marks replays, replays with the caller's data, and test sends", async () => {
    const replay = await buildSignedRequest(input({ replayOf: "dlv_0" }));
    expect(replay.headers["webhook-replay-of"]).toBe("dlv_0");
    expect(replay.headers["webhook-payload-override"]).toBeUndefined();
    const overridden = await buildSignedRequest(input({ replayOf: "dlv_0", payloadOverridden: true }));
    expect(overridden.headers["webhook-payload-override"]).toBe("true");
    expect((await buildSignedRequest(input({ test: true }))).headers["webhook-test"]).toBe("true");
    expect((await buildSignedRequest(input())).headers["webhook-test"]).toBeUndefined();
  });
});
