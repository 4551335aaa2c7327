import { afterEach, describe, expect, it, vi } from "vitest";
import { ADMIN_TOKEN, callOk } from "../../support/api";
import { givenEndpoint, publishSettled, rotateSecret } from "../../support/fixtures";
import { SECRETS_KEY } from "../../support/secrets";

describe("secrets stay out of logs", () => {
  afterEach(() => vi.restoreAllMocks());

  it("logs no signing secret, token, key or payload through a whole lifecycle", async () => {
    const logged: unknown[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        logged.push(args);
      });
    }
    const { org, endpoint, signingSecret } = await givenEndpoint({ script: [{ status: 500 }] });
    const { signingSecret: rotated } = await rotateSecret(org, endpoint.id);
    const marker = "payload-marker-5f1c";
    const { event } = await publishSettled(org, { data: { matterId: "m", name: marker } });
    await callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/test`, 200, { token: org.token });
    await callOk("GET", "/webhooks/v1/endpoints", 401, { token: "sk_wrong" });

    const text = JSON.stringify(logged);
    // The lifecycle was logged: a line per failed attempt, and a line per run for the deliveries that
    // succeeded, with what an operator needs to find them.
    const lines = logged
      .flatMap((args) => (args as unknown[]).filter((a): a is string => typeof a === "string"))
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line));
    expect(lines.filter((line) => line.message === "delivery attempt")).toEqual([
      expect.objectContaining({
        eventId: event.id,
        endpointId: endpoint.id,
        organizationId: org.id,
        attempt: 1,
        statusCode: 500,
        outcome: "retryable",
        errorClass: "http_5xx",
        eventType: "matter.created",
        durationMs: expect.any(Number),
      }),
    ]);
    expect(lines.filter((line) => line.message === "deliveries delivered")).toEqual([
      expect.objectContaining({
        endpointId: endpoint.id,
        organizationId: org.id,
        count: 1,
        deliveries: [
          expect.objectContaining({
            eventId: event.id,
            attempt: 2,
            statusCode: 200,
            durationMs: expect.any(Number),
          }),
        ],
      }),
    ]);
    for (const secret of [signingSecret, rotated, org.token, ADMIN_TOKEN, SECRETS_KEY, marker]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secret.slice(6)); // without any prefix
    }
  });
});
