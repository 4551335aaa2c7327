import { z } from "zod";
import { defineEventType } from "./define";

/** Types the service itself emits, whatever the platform's own families are. */
export const operationalEventTypes = [
  defineEventType({
    type: "webhook.test",
    description: "A test message sent on request to check an endpoint.",
    scope: "webhooks",
    stability: "stable",
    schema: z.record(z.string(), z.unknown()),
    example: { message: "Hello from edge-webhooks" },
  }),
  defineEventType({
    type: "webhook.endpoint.failing",
    description:
      "An endpoint's failures reached half (FAILING_WARNING_FRACTION) of the auto-disable thresholds: it is disabled at `disableAt` if every attempt until then fails. Sent once per failure streak.",
    scope: "webhooks",
    stability: "stable",
    schema: z.object({
      endpointId: z.string(),
      url: z.string(),
      failingSince: z.iso.datetime(),
      failures: z.number().int(),
      lastError: z.string().nullable(),
      disableAt: z.iso.datetime(),
    }),
    example: {
      endpointId: "evsub_01J0000000000000000000000",
      url: "https://example.com/webhooks",
      failingSince: "2026-01-29T05:00:00Z",
      failures: 5,
      lastError: "HTTP 503",
      disableAt: "2026-02-03T05:00:00Z",
    },
  }),
  defineEventType({
    type: "webhook.endpoint.disabled",
    description:
      "An endpoint was disabled automatically: it failed for too long (`cause: failing`), or its receiver answered 410 Gone (`cause: gone`).",
    scope: "webhooks",
    stability: "stable",
    schema: z.object({
      endpointId: z.string(),
      url: z.string(),
      disabledAt: z.iso.datetime(),
      failures: z.number().int(),
      lastError: z.string().nullable(),
      cause: z.enum(["failing", "gone"]),
    }),
    example: {
      endpointId: "evsub_01J0000000000000000000000",
      url: "https://example.com/webhooks",
      disabledAt: "2026-01-31T17:00:00Z",
      failures: 10,
      lastError: "HTTP 503",
      cause: "failing",
    },
  }),
  ...operatorEventTypes(),
];

/**
 * Sent to the operator's own endpoints only (events/operator.ts), about every other organization's
 * endpoints: what Svix calls operational webhooks. Each names the organization and the endpoint.
 */
function operatorEventTypes() {
  const endpoint = z.object({ organizationId: z.string(), endpointId: z.string(), url: z.string() });
  const example = {
    organizationId: "org_01J0000000000000000000000",
    endpointId: "evsub_01J0000000000000000000000",
    url: "https://example.com/webhooks",
  };
  const operatorType = (
    type: string,
    description: string,
    schema: z.ZodObject,
    extra: Record<string, unknown> = {},
  ) =>
    defineEventType({
      type,
      description: `${description} Sent to the operator's endpoints only.`,
      scope: "operator",
      stability: "beta",
      schema,
      example: { ...example, ...extra },
    });
  return [
    operatorType("operator.endpoint.created", "An organization created an endpoint.", endpoint),
    operatorType("operator.endpoint.deleted", "An organization deleted an endpoint.", endpoint),
    operatorType("operator.endpoint.enabled", "An organization enabled a disabled endpoint again.", endpoint),
    operatorType(
      "operator.endpoint.failing",
      "An endpoint's failures reached the warning threshold (as webhook.endpoint.failing).",
      endpoint.extend({
        failingSince: z.iso.datetime(),
        failures: z.number().int(),
        lastError: z.string().nullable(),
        disableAt: z.iso.datetime(),
      }),
      {
        failingSince: "2026-01-29T05:00:00Z",
        failures: 5,
        lastError: "HTTP 503",
        disableAt: "2026-02-03T05:00:00Z",
      },
    ),
    operatorType(
      "operator.endpoint.disabled",
      "An endpoint was disabled automatically (as webhook.endpoint.disabled).",
      endpoint.extend({
        disabledAt: z.iso.datetime(),
        failures: z.number().int(),
        lastError: z.string().nullable(),
        cause: z.enum(["failing", "gone"]),
      }),
      { disabledAt: "2026-01-31T17:00:00Z", failures: 10, lastError: "HTTP 503", cause: "failing" },
    ),
  ];
}
