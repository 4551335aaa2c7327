import { type Config, getConfig } from "../config";
import { type Attempt, type AttemptTrigger, insertAttempt } from "../db/attempts";
import {
  claimDeliveries,
  type DeliveryJob,
  type DeliveryProgress,
  failPendingDelivery,
  getDeliveryJobs,
  releaseDelivery,
  updateDeliveryProgress,
} from "../db/deliveries";
import { type Endpoint, getEndpointById } from "../db/endpoints";
import { type EndpointHealth, endpointHealth } from "../health/endpoint-health";
import type { AttemptOutcome } from "../health/policy";
import { deferralDelaySeconds } from "../health/rate-limit";
import type { DeliveryMessage } from "./messages";
import { observeAttempt } from "./observe";
import { buildSignedRequest } from "./request";
import { classifyAttempt, describeAttempt, type NextStep, nextStep } from "./retry-policy";
import { type AttemptResult, attemptTimeoutMs, sendSignedRequest } from "./send";
import { loadSigningSecrets } from "./signing-secrets";
import { checkEndpointUrl } from "./url-policy";

type Job = { message: Message<DeliveryMessage>; job: DeliveryJob };

/**
 * The `webhook-deliveries` consumer. Messages are grouped by endpoint: each group reads its endpoint
 * and secrets once, asks the endpoint's health object for rate-limit permits once (when the endpoint
 * has a limit) and reports its attempt outcomes to it once. Each delivery gets its inline attempts,
 * then one D1 batch (attempts + status), then an ack or a queue retry.
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
  const pending: Job[] = [];
  const seen = new Set<string>();
  for (const message of messages) {
    const job = jobs.get(message.body.deliveryId);
    // Already settled (a duplicate message), gone (retention), or twice in this batch (fan-out re-sent by
    // the sweeper): the first message for a pending delivery carries it; the others have nothing to do.
    if (job?.status !== "pending" || seen.has(job.id)) message.ack();
    else {
      seen.add(job.id);
      pending.push({ message, job });
    }
  }
  if (!target.ok) {
    await settle(env, pending, async (job) => {
      await failPendingDelivery(env.DB, job.id, target.reason).run();
      return [];
    });
    return;
  }

  const { endpoint } = target;
  const health = endpointHealth(env, endpoint.id);
  const turn = endpoint.rateLimitPerSecond
    ? await takeTurns(env, health, endpoint.rateLimitPerSecond, pending)
    : pending;
  const mine = await lease(env, config, turn);
  if (mine.length === 0) return;
  const secrets = await loadSigningSecrets(env, endpoint.id);
  const outcomes = await settle(env, mine, (job, message) =>
    attemptDelivery(env, config, endpoint, secrets, job, message),
  );
  if (outcomes.length > 0) await health.record(endpoint.id, outcomes);
}

/**
 * Takes the lease of each delivery about to be attempted. One held by another run (the sweeper
 * re-enqueued a message that was only slow, or a crashed run's lease has not expired) comes back
 * once that lease is over; the run holding it settles it.
 */
async function lease(env: Env, config: Config, jobs: Job[]): Promise<Job[]> {
  if (jobs.length === 0) return jobs;
  const seconds = leaseSeconds(config);
  const now = Date.now();
  const claimed = await claimDeliveries(
    env.DB,
    jobs.map(({ job }) => job.id),
    new Date(now).toISOString(),
    new Date(now + seconds * 1000).toISOString(),
  );
  for (const { job, message } of jobs) if (!claimed.has(job.id)) message.retry({ delaySeconds: seconds });
  return jobs.filter(({ job }) => claimed.has(job.id));
}

/** Long enough for a whole run: every inline attempt timing out, the delays between them, and a margin. */
function leaseSeconds(config: Config): number {
  const inlineMs = config.inlineRetryDelaysMs.reduce((sum, ms) => sum + ms, 0);
  return (
    Math.ceil(((config.inlineRetryDelaysMs.length + 1) * config.deliveryTimeoutMs + inlineMs) / 1000) + 30
  );
}

/** Runs `work` for each job; a job whose work throws gives its lease back and is left to the queue to retry. */
async function settle(
  env: Env,
  jobs: Job[],
  work: (job: DeliveryJob, message: Message<DeliveryMessage>) => Promise<AttemptOutcome[]>,
): Promise<AttemptOutcome[]> {
  const outcomes = await Promise.all(
    jobs.map(async ({ job, message }) => {
      try {
        return await work(job, message);
      } catch (error) {
        console.error(
          JSON.stringify({
            message: "delivery failed unexpectedly",
            deliveryId: job.id,
            error: String(error),
          }),
        );
        await releaseDelivery(env.DB, job.id)
          .run()
          .catch(() => {});
        message.retry();
        return [];
      }
    }),
  );
  return outcomes.flat();
}

/**
 * Rate limiting: the deliveries the endpoint's bucket has permits for go now; the others go back to
 * the queue as new messages, spread over the coming seconds. A deferral is not a failure and does not
 * spend a retry.
 */
async function takeTurns(
  env: Env,
  health: DurableObjectStub<EndpointHealth>,
  ratePerSecond: number,
  jobs: Job[],
): Promise<Job[]> {
  if (jobs.length === 0) return jobs;
  const { granted, nextPermitInMs } = await health.acquire(jobs.length, ratePerSecond);
  const later = jobs.slice(granted);
  if (later.length > 0) {
    try {
      await env.DELIVERIES_QUEUE.sendBatch(
        later.map(({ message }, i) => ({
          body: message.body,
          delaySeconds: deferralDelaySeconds(i, nextPermitInMs, ratePerSecond),
        })),
      );
      for (const { message } of later) message.ack();
    } catch {
      for (const { message } of later) message.retry({ delaySeconds: 1 });
    }
  }
  return jobs.slice(0, granted);
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
  const { content } = job;
  if (!content) {
    // Retention removed the event before this delivery (a late replay) could be sent.
    await failPendingDelivery(env.DB, job.id, "event_expired").run();
    message.ack();
    return [];
  }
  const timeoutMs = attemptTimeoutMs(endpoint.timeoutMs, config.deliveryTimeoutMs);
  const attempts: Attempt[] = [];
  const results: AttemptResult[] = [];
  let step: NextStep;
  for (;;) {
    const number = job.attemptCount + attempts.length + 1;
    const request = await buildSignedRequest({
      endpoint,
      secrets,
      content: { eventId: job.eventId, eventType: job.eventType, ...content },
      deliveryId: job.id,
      attemptNumber: number,
      replayOf: job.replayOf,
      timestamp: Math.floor(Date.now() / 1000),
      headerPrefix: config.signatureHeaderPrefix,
    });
    const result = await sendSignedRequest(request, timeoutMs);
    observeAttempt(
      env.DELIVERY_ANALYTICS,
      { endpoint, deliveryId: job.id, eventId: job.eventId, eventType: job.eventType, attempt: number },
      result,
      classifyAttempt(result),
    );
    results.push(result);
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
    step = nextStep(
      result,
      { attemptsThisRun: attempts.length, queueRetriesSpent: job.queueRetries },
      config,
    );
    if (step.kind !== "retry_inline") break;
    const { delayMs } = step;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }

  const last = attempts[attempts.length - 1] as Attempt;
  await env.DB.batch([
    ...attempts.map((a) => insertAttempt(env.DB, a)),
    updateDeliveryProgress(env.DB, job.id, progressAfter(step, last, job.queueRetries, new Date())),
  ]);
  if (step.kind === "retry_queue") message.retry({ delaySeconds: step.delaySeconds });
  else message.ack();
  return results.map((result) => toOutcome(result, step.kind === "failed"));
}

/** Attempt 1 is the initial one; later attempts in the same run are inline retries, the first of a later run a queue retry. */
function triggerOf(number: number, earlierThisRun: number): AttemptTrigger {
  if (number === 1) return "initial";
  return earlierThisRun > 0 ? "inline_retry" : "queue_retry";
}

/** What the health object hears of an attempt; a Retry-After answer counts only once the delivery failed. */
function toOutcome(result: AttemptResult, deliveryFailed: boolean): AttemptOutcome {
  const verdict = classifyAttempt(result);
  const patient =
    result.retryAfterSeconds !== undefined && (result.statusCode === 429 || result.statusCode === 503);
  return {
    at: Date.parse(result.startedAt) + result.durationMs,
    kind: verdict === "delivered" ? "success" : patient && !deliveryFailed ? "deferred" : "failure",
    statusCode: result.statusCode ?? null,
    error: verdict === "delivered" ? null : describeAttempt(result),
  };
}

function progressAfter(
  step: Exclude<NextStep, { kind: "retry_inline" }>,
  last: Attempt,
  queueRetries: number,
  now: Date,
): DeliveryProgress {
  const base = {
    attemptCount: last.number,
    queueRetries,
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
        queueRetries: queueRetries + 1,
        lastError: last.error ?? `HTTP ${last.statusCode}`,
        nextAttemptAt: new Date(now.getTime() + step.delaySeconds * 1000).toISOString(),
      };
  }
}
