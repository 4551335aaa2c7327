import type { Config } from "../config";
import type { Attempt, AttemptTrigger, DeliveryJob } from "../domain/delivery";
import type { DeliveryEndpoint } from "../domain/endpoint";
import { newSpanId, newTraceId, traceparentOf } from "../lib/trace";
import type { EndpointConnections } from "./connections";
import type { EndpointCredentials } from "./endpoint-credentials";
import { type Lane, slowAttempts } from "./lanes";
import { buildSignedRequest } from "./request";
import { describeAttempt, type FinalStep, type NextStep, nextStep } from "./retry-policy";
import { type AttemptResult, attemptTimeoutMs, sendSignedRequest } from "./send";

/** What every attempt to one endpoint in a run shares. */
export type AttemptSetting = {
  config: Config;
  endpoint: DeliveryEndpoint;
  credentials: EndpointCredentials;
  connections: EndpointConnections;
  lane: Lane;
};

/** A delivery's attempts in one run, and the step they end on. */
export type AttemptsMade = {
  /** This run's attempts, in order, as the delivery's history keeps them. */
  attempts: Attempt[];
  /** What each of them came to, for the logs, the analytics and the endpoint's health. */
  results: AttemptResult[];
  /** Delivered, failed, or a queue retry in `delaySeconds`. */
  step: FinalStep;
};

/**
 * A delivery's attempts in this run: the first, then inline retries as the retry policy says, each
 * signed and timed when its connection is free. Null when no connection came free within the run's
 * time: another run makes the attempt, with nothing spent. No I/O but the requests; what they come
 * to is recorded and reported by the caller.
 */
export async function attemptDelivery(
  { config, endpoint, credentials, connections, lane }: AttemptSetting,
  job: DeliveryJob,
): Promise<AttemptsMade | null> {
  const content = job.content as NonNullable<DeliveryJob["content"]>;
  const timeoutMs = attemptTimeoutMs(endpoint.timeoutMs, config.deliveryTimeoutMs);
  // Every attempt of a delivery is in one trace: its first attempt's, else its event's, else a new one.
  const traceId = job.attempts[0]?.traceId ?? content.traceId ?? newTraceId();
  const attempts: Attempt[] = [];
  const results: AttemptResult[] = [];
  for (;;) {
    const number = job.attemptCount + attempts.length + 1;
    const spanId = newSpanId();
    const send = async () => {
      const request = await buildSignedRequest({
        endpoint,
        credentials,
        content: { eventId: job.eventId, eventType: job.eventType, ...content },
        deliveryId: job.id,
        attemptNumber: number,
        replayOf: job.replayOf,
        payloadOverridden: job.payloadOverridden,
        timestamp: Math.floor(Date.now() / 1000),
        headerPrefix: config.signatureHeaderPrefix,
        traceparent: traceparentOf(traceId, spanId),
      });
      const result = await sendSignedRequest(request, timeoutMs);
      // A slow receiver found by the main lane gets no more first attempts in this run (they go to the
      // slow lane): decided before this connection is free for another.
      if (lane === "main" && slowAttempts([result], config)) connections.declineFirsts();
      return result;
    };
    const result = attempts.length === 0 ? await connections.first(send) : await connections.retry(send);
    if (!result) return null;
    results.push(result);
    attempts.push({
      number,
      trigger: triggerOf(number, attempts.length),
      startedAt: result.startedAt,
      durationMs: result.durationMs,
      statusCode: result.statusCode ?? null,
      error: result.statusCode === undefined ? describeAttempt(result) : null,
      responseBody: result.responseBody ?? null,
      traceId,
      spanId,
    });
    // A slow receiver is not retried inline by the main lane: the retry goes to the slow lane, on the
    // schedule, and this run does not wait another timeout for it.
    const inlineRetries = !(lane === "main" && slowAttempts([result], config));
    const step: NextStep = nextStep(
      result,
      { attemptsThisRun: attempts.length, queueRetriesSpent: job.queueRetries, inlineRetries },
      {
        inlineRetryDelaysMs: config.inlineRetryDelaysMs,
        retryScheduleSeconds: endpoint.retrySchedule ?? config.retryScheduleSeconds,
      },
    );
    if (step.kind !== "retry_inline") return { attempts, results, step };
    await new Promise((resolve) => setTimeout(resolve, step.delayMs));
  }
}

/** Attempt 1 is the initial one; later attempts in the same run are inline retries, the first of a later run a queue retry. */
function triggerOf(number: number, earlierThisRun: number): AttemptTrigger {
  if (number === 1) return "initial";
  return earlierThisRun > 0 ? "inline_retry" : "queue_retry";
}
