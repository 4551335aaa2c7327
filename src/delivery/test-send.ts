import { getConfig } from "../config";
import type { Endpoint } from "../domain/endpoint";
import { newTestDeliveryId, newTestEventId } from "../lib/ids";
import { newSpanId, newTraceId, traceparentOf } from "../lib/trace";
import { loadEndpointCredentials } from "./endpoint-credentials";
import { buildSignedRequest } from "./request";
import { classifyAttempt, describeAttempt } from "./retry-policy";
import { attemptTimeoutMs, sendSignedRequest } from "./send";

export type TestSendResult = {
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  responseBody: string | null;
  error?: string;
};

/**
 * One synchronous, signed attempt to an endpoint, as a real delivery would be sent, so a customer can
 * check their receiver and signature verification. No retry, nothing recorded. Marked as a test (its
 * own `evt_test_` id and a `webhook-test: true` header): it is signed with the real secret.
 */
export async function sendTestMessage(
  env: Env,
  endpoint: Endpoint,
  eventType: string,
  data: unknown,
): Promise<TestSendResult> {
  const config = getConfig(env);
  const request = await buildSignedRequest({
    endpoint,
    credentials: await loadEndpointCredentials(env, endpoint),
    content: {
      eventId: newTestEventId(),
      eventType,
      occurredAt: new Date().toISOString(),
      data,
      resources: {},
    },
    deliveryId: newTestDeliveryId(),
    attemptNumber: 1,
    replayOf: null,
    payloadOverridden: false,
    test: true,
    timestamp: Math.floor(Date.now() / 1000),
    headerPrefix: config.signatureHeaderPrefix,
    traceparent: traceparentOf(newTraceId(), newSpanId()),
  });
  const result = await sendSignedRequest(
    request,
    attemptTimeoutMs(endpoint.timeoutMs, config.deliveryTimeoutMs),
  );
  const ok = classifyAttempt(result) === "delivered";
  return {
    ok,
    statusCode: result.statusCode ?? null,
    durationMs: result.durationMs,
    responseBody: result.responseBody ?? null,
    ...(ok ? {} : { error: describeAttempt(result) }),
  };
}
