import { type Config, getConfig } from "../config";
import { type Attempt, type AttemptTrigger, insertAttempt } from "../db/attempts";
import {
  type DeliveryJob,
  type DeliveryProgress,
  failPendingDelivery,
  getDeliveryJobs,
  updateDeliveryProgress,
} from "../db/deliveries";
import { autoDisableEndpoint, type Endpoint, getEndpointById } from "../db/endpoints";
import { endpointHealth } from "../health/endpoint-health";
import type { AttemptOutcome } from "../health/policy";
import type { DeliveryMessage } from "./messages";
import { publishEvent } from "./publish";
import { buildSignedRequest } from "./request";
import { describeAttempt, type NextStep, nextStep } from "./retry-policy";
import { attemptTimeoutMs, sendSignedRequest } from "./send";
import { loadSigningSecrets } from "./signing-secrets";
import { checkEndpointUrl } from "./url-policy";

/**
 * The `webhook-deliveries` consumer. Messages are grouped by endpoint: each group reads its endpoint
 * and secrets once and reports its outcomes to the endpoint's health object in one call. Each
 * delivery gets its inline attempts, then one D1 batch (attempts + status), then ack or queue retry.
 */
export async function deliverBatch(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
  const config = getConfig(env);
  const jobs = await getDeliveryJobs(
    env.DB,
    batch.messages.map((m) => m.body.deliveryId),
  );
  const byEndpoint = Map.groupBy(batch.messages, (m) => m.body.endpointId);
  await Promise.all(
    [...byEndpoint].map(([endpointId, messages]) =>
      deliverToEndpoint(env, config, endpointId, messages, jobs),
    ),
  );
}

async function deliverToEndpoint(
  env: Env,
  config: Config,
  endpointId: string,
  messages: Message<DeliveryMessage>[],
  jobs: Map<string, DeliveryJob>,
): Promise<void> {
  const target = deliveryTarget(await getEndpointById(env.DB, endpointId), config);
  const secrets = target.ok ? await loadSigningSecrets(env, endpointId) : [];

  const outcomes = await Promise.all(
    messages.map(async (message) => {
      const job = jobs.get(message.body.deliveryId);
      try {
        // Already settled (a duplicate message) or gone (retention): nothing to do.
        if (job?.status !== "pending") {
          message.ack();
          return [];
        }
        if (!target.ok) {
          await failPendingDelivery(env.DB, job.id, target.reason).run();
          message.ack();
          return [];
        }
        return await attemptDelivery(env, config, target.endpoint, secrets, job, message);
      } catch (error) {
        console.error(
          JSON.stringify({
            message: "delivery failed unexpectedly",
            deliveryId: message.body.deliveryId,
            error: String(error),
          }),
        );
        message.retry();
        return [];
      }
    }),
  );

  const reported = outcomes.flat();
  if (target.ok && reported.length > 0) await reportHealth(env, target.endpoint, reported);
}

type DeliveryTarget = { ok: true; endpoint: Endpoint } | { ok: false; reason: string };

/** Deliveries to a deleted or disabled endpoint, or to a URL the policy now refuses, end without a call. */
function deliveryTarget(endpoint: Endpoint | null, config: Config): DeliveryTarget {
  if (!endpoint || endpoint.deletedAt) return { ok: false, reason: "endpoint_deleted" };
  if (endpoint.status !== "active") return { ok: false, reason: "endpoint_disabled" };
  if (!checkEndpointUrl(endpoint.url, config.allowInsecureUrls).ok)
    return { ok: false, reason: "url_not_allowed" };
  return { ok: true, endpoint };
}

async function attemptDelivery(
  env: Env,
  config: Config,
  endpoint: Endpoint,
  secrets: string[],
  job: DeliveryJob,
  message: Message<DeliveryMessage>,
): Promise<AttemptOutcome[]> {
  const queueRetriesSpent = message.attempts - 1;
  const timeoutMs = attemptTimeoutMs(endpoint.timeoutMs, config.deliveryTimeoutMs);
  const attempts: Attempt[] = [];
  let step: NextStep;
  for (;;) {
    const number = job.attemptCount + attempts.length + 1;
    const request = await buildSignedRequest({
      endpoint,
      secrets,
      content: {
        eventId: job.eventId,
        eventType: job.eventType,
        occurredAt: job.occurredAt,
        data: job.data,
        resources: job.resources,
      },
      deliveryId: job.id,
      attemptNumber: number,
      replayOf: job.replayOf,
      timestamp: Math.floor(Date.now() / 1000),
      headerPrefix: config.signatureHeaderPrefix,
    });
    const result = await sendSignedRequest(request, timeoutMs);
    attempts.push({
      deliveryId: job.id,
      number,
      trigger: triggerOf(number, attempts.length),
      startedAt: result.startedAt,
      durationMs: result.durationMs,
      statusCode: result.statusCode ?? null,
      error: result.statusCode === undefined ? describeAttempt(result) : null,
      responseBody: result.responseBody ?? null,
    });
    step = nextStep(result, { attemptsThisRun: attempts.length, queueRetriesSpent }, config);
    if (step.kind !== "retry_inline") break;
    const { delayMs } = step;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }

  const last = attempts[attempts.length - 1] as Attempt;
  await env.DB.batch([
    ...attempts.map((a) => insertAttempt(env.DB, a)),
    updateDeliveryProgress(env.DB, job.id, progressAfter(step, last, new Date())),
  ]);
  if (step.kind === "retry_queue") message.retry({ delaySeconds: step.delaySeconds });
  else message.ack();

  return attempts.map((a) => {
    const ok = a.statusCode !== null && a.statusCode >= 200 && a.statusCode < 300;
    return {
      at: Date.parse(a.startedAt) + a.durationMs,
      ok,
      statusCode: a.statusCode,
      error: ok ? null : describeStored(a),
    };
  });
}

/** Attempt 1 is the initial one; later attempts in the same run are inline retries, the first of a later run a queue retry. */
function triggerOf(number: number, earlierThisRun: number): AttemptTrigger {
  if (number === 1) return "initial";
  return earlierThisRun > 0 ? "inline_retry" : "queue_retry";
}

function progressAfter(
  step: Exclude<NextStep, { kind: "retry_inline" }>,
  last: Attempt,
  now: Date,
): DeliveryProgress {
  const base = {
    attemptCount: last.number,
    lastStatusCode: last.statusCode,
    nextAttemptAt: null,
    deliveredAt: null,
  };
  switch (step.kind) {
    case "delivered":
      return { ...base, status: "delivered", lastError: null, deliveredAt: now.toISOString() };
    case "failed":
      return { ...base, status: "failed", lastError: step.reason };
    case "retry_queue":
      return {
        ...base,
        status: "pending",
        lastError: describeStored(last),
        nextAttemptAt: new Date(now.getTime() + step.delaySeconds * 1000).toISOString(),
      };
  }
}

/** The stored attempt as `describeAttempt` puts it: the error, or the HTTP status. */
const describeStored = (a: Attempt) => a.error ?? `HTTP ${a.statusCode}`;

/** One call per endpoint per batch; when the object says so, the endpoint is disabled and the org told. */
async function reportHealth(env: Env, endpoint: Endpoint, outcomes: AttemptOutcome[]): Promise<void> {
  const { disable } = await endpointHealth(env, endpoint.id).record(outcomes);
  if (!disable || !(await autoDisableEndpoint(env.DB, endpoint.id, disable))) return;
  console.log(
    JSON.stringify({
      message: "endpoint auto-disabled",
      endpointId: endpoint.id,
      organizationId: endpoint.organizationId,
      ...disable,
    }),
  );
  await publishEvent(env, {
    organizationId: endpoint.organizationId,
    type: "webhook.endpoint.disabled",
    data: {
      endpointId: endpoint.id,
      url: endpoint.url,
      disabledAt: disable.at,
      failures: disable.failures,
      lastError: disable.lastError,
    },
  });
}
