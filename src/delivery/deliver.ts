import { type Config, getConfig } from "../config";
import {
  type Attempt,
  type AttemptTrigger,
  type DeliveryJob,
  type DeliveryOutcome,
  type DeliveryProgress,
  failDelivery,
  insertDeliveryOutcomes,
  leaseDeliveries,
  releaseDelivery,
  storedDeliveryIds,
  updateDeliveryProgress,
} from "../db/deliveries";
import { type Endpoint, getEndpointById } from "../db/endpoints";
import { getEvent } from "../db/events";
import { endpointHealth } from "../health/endpoint-health";
import type { AttemptOutcome } from "../health/policy";
import { deferralDelaySeconds } from "../health/rate-limit";
import { type ConnectionGate, connectionGate } from "./connections";
import { type EndpointCredentials, loadEndpointCredentials } from "./endpoint-credentials";
import { type DeliveryMessage, sendAll, sweepAfter, withIfFits } from "./messages";
import { type DeliveredAttempt, logDelivered, observeAttempt } from "./observe";
import { buildSignedRequest } from "./request";
import { classifyAttempt, describeAttempt, type NextStep, nextStep } from "./retry-policy";
import { type AttemptResult, attemptTimeoutMs, sendSignedRequest } from "./send";
import { checkEndpointUrl } from "./url-policy";

/** A delivery to attempt now, and the queue message it came in (fan-out's first attempts have none). */
export type Job = { job: DeliveryJob; message?: Message<DeliveryMessage> };

/**
 * What became of a job in this run. `writes`, and the row of a first attempt (`outcome`), go to D1
 * before anything is acknowledged or sent.
 */
type Settled = Job & { writes: D1PreparedStatement[]; outcome?: DeliveryOutcome } & (
    | { kind: "done" }
    | { kind: "retry"; delaySeconds: number }
    | { kind: "deferred"; delaySeconds: number }
    | { kind: "crashed" }
  );

/**
 * The `webhook-deliveries` consumer: retries and replays (leased and read from their rows) and first
 * attempts that fan-out handed on (which carry their event). Duplicates — a message whose delivery
 * has a row already, or twice in this batch — are acknowledged without an attempt.
 */
export async function deliverBatch(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
  const config = getConfig(env);
  const seen = new Set<string>();
  const unique = batch.messages.filter((message) => {
    const fresh = !seen.has(message.body.deliveryId);
    seen.add(message.body.deliveryId);
    if (!fresh) message.ack();
    return fresh;
  });
  const byOrganization = Map.groupBy(unique, (m) => m.body.organizationId);
  const jobs = await Promise.all(
    [...byOrganization].map(async ([organizationId, messages]) => [
      ...(await leasedJobs(
        env,
        config,
        organizationId,
        messages.filter((m) => !m.body.first),
      )),
      ...(await firstAttemptJobs(
        env,
        organizationId,
        messages.filter((m) => m.body.first),
      )),
    ]),
  );
  await runDeliveries(env, config, jobs.flat());
}

/** Retries and replays: the rows this run leased. One held by another run comes back when that lease ends. */
async function leasedJobs(
  env: Env,
  config: Config,
  organizationId: string,
  messages: Message<DeliveryMessage>[],
): Promise<Job[]> {
  if (messages.length === 0) return [];
  const seconds = leaseSeconds(config);
  const now = Date.now();
  const { leased, rows } = await leaseDeliveries(
    env.DB,
    organizationId,
    messages.map((m) => m.body.deliveryId),
    new Date(now).toISOString(),
    new Date(now + seconds * 1000).toISOString(),
  );
  const jobs: Job[] = [];
  for (const message of messages) {
    const row = rows.get(message.body.deliveryId);
    if (row && leased.has(row.id)) jobs.push({ job: row, message });
    else if (row?.status === "pending") message.retry({ delaySeconds: seconds });
    else message.ack(); // settled already (a duplicate message), or gone (retention)
  }
  return jobs;
}

/** First attempts handed on by fan-out; one that has a row was made already. */
async function firstAttemptJobs(
  env: Env,
  organizationId: string,
  messages: Message<DeliveryMessage>[],
): Promise<Job[]> {
  if (messages.length === 0) return [];
  const stored = await storedDeliveryIds(
    env.DB,
    organizationId,
    messages.map((m) => m.body.deliveryId),
  );
  const jobs: Job[] = [];
  for (const message of messages) {
    const { deliveryId, eventId, first } = message.body;
    if (stored.has(deliveryId) || !first) {
      message.ack();
      continue;
    }
    // An event too large to ride along is read (null once retention removed it).
    const event = first.event ?? (await getEvent(env.DB, organizationId, eventId));
    const content = event && { data: event.data, resources: event.resources, occurredAt: event.occurredAt };
    jobs.push({ message, job: firstAttemptJob(message.body, first.eventType, content) });
  }
  return jobs;
}

/**
 * Attempts `jobs`, grouped by endpoint: each group reads its endpoint and secrets once, asks the
 * endpoint's health object for rate-limit permits once (when the endpoint has a limit), reports its
 * outcomes to it once, and records every attempt and delivery in one D1 batch; only after that are
 * its messages acknowledged, retried or sent. Attempts go six at a time across the run (connections.ts);
 * a delivery not started within the run's budget is handed on to a new message. A group whose batch
 * fails goes round again whole (a first attempt finds no row) without holding up the others. Throws
 * if a job without a message (a fan-out first attempt) could not be recorded, so fan-out's own message
 * is retried.
 */
export async function runDeliveries(
  env: Env,
  config: Config,
  jobs: Job[],
  knownEndpoints: ReadonlyMap<string, Endpoint> = new Map(),
): Promise<void> {
  const failures: unknown[] = [];
  const connections = connectionGate(Date.now() + startBudgetMs(config));
  const recorded = await Promise.all(
    [...Map.groupBy(jobs, ({ job }) => job.endpointId)].map(async ([endpointId, group]) => {
      const endpoint = knownEndpoints.get(endpointId) ?? (await getEndpointById(env.DB, endpointId));
      const settled = await deliverToEndpoint(env, config, endpoint, group, connections);
      const writes = [
        ...settled.flatMap((s) => s.writes),
        ...insertDeliveryOutcomes(
          env.DB,
          settled.flatMap((s) => (s.outcome ? [s.outcome] : [])),
        ),
      ];
      try {
        if (writes.length > 0) await env.DB.batch(writes);
        return settled;
      } catch (error) {
        for (const s of settled) s.message?.retry();
        if (settled.some((s) => !s.message)) failures.push(error);
        return [];
      }
    }),
  );
  const settled = recorded.flat();
  await followUp(env, settled);
  if (failures.length > 0) throw failures[0];
  // A fan-out first attempt whose run threw has no message to retry: fan-out's own goes round again.
  if (settled.some((s) => s.kind === "crashed" && !s.message)) throw new Error("a first attempt did not run");
}

/** After the run is recorded: acknowledge, retry through the queue, or hand on to a later message. */
async function followUp(env: Env, settled: Settled[]): Promise<void> {
  const later: { body: DeliveryMessage; delaySeconds: number }[] = [];
  for (const s of settled) {
    const { job, message } = s;
    if (s.kind === "crashed") message?.retry();
    else if (s.kind === "done") message?.ack();
    else if (s.kind === "retry" && message) message.retry({ delaySeconds: s.delaySeconds });
    // Its row is written now, so what comes back is a retry of a stored delivery.
    else if (s.kind === "retry")
      later.push({ body: messageFor({ ...job, stored: true }), delaySeconds: s.delaySeconds });
    else if (s.kind === "deferred")
      later.push({ body: message?.body ?? messageFor(job), delaySeconds: s.delaySeconds });
  }
  if (later.length > 0) {
    try {
      await sendAll(env.DELIVERIES_QUEUE, later);
    } catch (error) {
      // A deferred message still held goes back to the queue; a written pending row is swept later.
      for (const s of settled) if (s.kind === "deferred") s.message?.retry({ delaySeconds: 1 });
      if (settled.some((s) => s.kind === "deferred" && !s.message)) throw error;
      return;
    }
  }
  for (const s of settled) if (s.kind === "deferred") s.message?.ack();
}

/** A first attempt: no row yet, nothing of the retry schedule spent. */
export function firstAttemptJob(
  ids: Pick<DeliveryMessage, "organizationId" | "deliveryId" | "endpointId" | "eventId">,
  eventType: string,
  content: DeliveryJob["content"],
): DeliveryJob {
  return {
    id: ids.deliveryId,
    organizationId: ids.organizationId,
    eventId: ids.eventId,
    endpointId: ids.endpointId,
    eventType,
    content,
    attemptCount: 0,
    queueRetries: 0,
    replayOf: null,
    payloadOverridden: false,
    createdAt: new Date().toISOString(),
    stored: false,
    attempts: [],
  };
}

/** The message that carries `job` on: a retry of a stored delivery, or a first attempt handed on or put off. */
export function messageFor(job: DeliveryJob): DeliveryMessage {
  const body = {
    organizationId: job.organizationId,
    deliveryId: job.id,
    endpointId: job.endpointId,
    eventId: job.eventId,
  };
  if (job.stored) return body;
  return withIfFits<DeliveryMessage>(
    { ...body, first: { eventType: job.eventType } },
    { first: { eventType: job.eventType, event: job.content ?? undefined } },
  );
}

async function deliverToEndpoint(
  env: Env,
  config: Config,
  endpoint: Endpoint | null,
  jobs: Job[],
  connections: ConnectionGate,
): Promise<Settled[]> {
  const target = deliveryTarget(endpoint, config);
  if (!target.ok)
    return jobs.map((j) => ({ ...j, kind: "done", writes: failDelivery(env.DB, j.job, target.reason) }));

  const ready = jobs.filter(({ job }) => job.content);
  // Retention removed the event before this delivery (a late replay) could be sent.
  const expired: Settled[] = jobs
    .filter(({ job }) => !job.content)
    .map((j) => ({ ...j, kind: "done", writes: failDelivery(env.DB, j.job, "event_expired") }));

  const health = endpointHealth(env, target.endpoint.id);
  const { now, deferred } = target.endpoint.rateLimitPerSecond
    ? await takeTurns(health, target.endpoint.rateLimitPerSecond, ready)
    : { now: ready, deferred: [] };
  if (now.length === 0) return [...expired, ...deferred];

  const credentials = await loadEndpointCredentials(env, target.endpoint);
  const runs = await Promise.all(
    now.map((j) => attemptJob({ env, config, endpoint: target.endpoint, credentials, connections }, j)),
  );
  logDelivered(
    target.endpoint,
    runs.flatMap((r) => (r.delivered ? [r.delivered] : [])),
  );
  const outcomes = runs.flatMap((r) => r.outcomes);
  if (outcomes.length > 0) await health.record(target.endpoint.id, outcomes);
  return [...expired, ...deferred, ...runs.map((r) => r.settled)];
}

/** How long a run keeps starting deliveries (two attempt timeouts); later ones go on to another run. */
function startBudgetMs(config: Config): number {
  return 2 * config.deliveryTimeoutMs;
}

/**
 * Long enough for a whole run: the start budget, a started delivery's inline retries waiting behind
 * those of the others started with it (about twice the budget at most, six connections at a time),
 * its own attempts all timing out with the delays between them, and a margin.
 */
function leaseSeconds(config: Config): number {
  const inlineMs = config.inlineRetryDelaysMs.reduce((sum, ms) => sum + ms, 0);
  const ownMs = (config.inlineRetryDelaysMs.length + 1) * config.deliveryTimeoutMs + inlineMs;
  return Math.ceil((3 * startBudgetMs(config) + ownMs) / 1000) + 30;
}

/**
 * Rate limiting: the deliveries the endpoint's bucket has permits for go now; the others are put off
 * as new messages spread over the coming seconds. A deferral is not a failure and spends no retry.
 */
async function takeTurns(
  health: ReturnType<typeof endpointHealth>,
  ratePerSecond: number,
  jobs: Job[],
): Promise<{ now: Job[]; deferred: Settled[] }> {
  if (jobs.length === 0) return { now: [], deferred: [] };
  const { granted, nextPermitInMs } = await health.acquire(jobs.length, ratePerSecond);
  const deferred = jobs.slice(granted).map(
    (j, i): Settled => ({
      ...j,
      kind: "deferred",
      delaySeconds: deferralDelaySeconds(i, nextPermitInMs, ratePerSecond),
      writes: [],
    }),
  );
  return { now: jobs.slice(0, granted), deferred };
}

type DeliveryTarget = { ok: true; endpoint: Endpoint } | { ok: false; reason: string };

/** Deliveries to a deleted or disabled endpoint, or to a URL the policy now refuses, end without a call. */
function deliveryTarget(endpoint: Endpoint | null, config: Config): DeliveryTarget {
  if (!endpoint || endpoint.deletedAt) return { ok: false, reason: "endpoint_deleted" };
  if (endpoint.status !== "active") return { ok: false, reason: "endpoint_disabled" };
  if (!checkEndpointUrl(endpoint.url, config).ok) return { ok: false, reason: "url_not_allowed" };
  return { ok: true, endpoint };
}

/** What every attempt to one endpoint in this run shares. */
type EndpointRun = {
  env: Env;
  config: Config;
  endpoint: Endpoint;
  credentials: EndpointCredentials;
  connections: ConnectionGate;
};

/** A job's attempts in this run: how it settled, what the health object hears, and its success if any. */
type AttemptRun = { settled: Settled; outcomes: AttemptOutcome[]; delivered?: DeliveredAttempt };

/** One job's inline attempts; a job whose run throws gives its lease back and is retried whole. */
async function attemptJob(run: EndpointRun, j: Job): Promise<AttemptRun> {
  try {
    return await attemptDelivery(run, j);
  } catch (error) {
    console.error(
      JSON.stringify({ message: "delivery failed unexpectedly", deliveryId: j.job.id, error: String(error) }),
    );
    return { settled: { ...j, kind: "crashed", writes: leaseBack(run.env, j.job) }, outcomes: [] };
  }
}

async function attemptDelivery(
  { env, config, endpoint, credentials, connections }: EndpointRun,
  j: Job,
): Promise<AttemptRun> {
  const { job } = j;
  const content = job.content as NonNullable<DeliveryJob["content"]>;
  const timeoutMs = attemptTimeoutMs(endpoint.timeoutMs, config.deliveryTimeoutMs);
  const attempts: Attempt[] = [];
  const results: AttemptResult[] = [];
  let step: NextStep;
  for (;;) {
    const number = job.attemptCount + attempts.length + 1;
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
      });
      return sendSignedRequest(request, timeoutMs);
    };
    const result = attempts.length === 0 ? await connections.first(send) : await connections.retry(send);
    // No connection came free in time: another run makes this attempt, with nothing spent.
    if (!result) return { settled: handedOn(env, j), outcomes: [] };
    observeAttempt(
      env.DELIVERY_ANALYTICS,
      { endpoint, deliveryId: job.id, eventId: job.eventId, eventType: job.eventType, attempt: number },
      result,
      classifyAttempt(result),
    );
    results.push(result);
    attempts.push({
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
  const progress = progressAfter(step, last, job.queueRetries, new Date());
  const recorded = job.stored
    ? { writes: [updateDeliveryProgress(env.DB, job, progress, [...job.attempts, ...attempts])] }
    : { writes: [], outcome: { job, progress, attempts } };
  const settled: Settled =
    step.kind === "retry_queue"
      ? { ...j, kind: "retry", delaySeconds: step.delaySeconds, ...recorded }
      : { ...j, kind: "done", ...recorded };
  const outcomes = results.map((result) => toOutcome(result, step.kind === "failed"));
  if (step.kind !== "delivered") return { settled, outcomes };
  const delivered = {
    deliveryId: job.id,
    eventId: job.eventId,
    attempt: last.number,
    statusCode: last.statusCode as number,
    durationMs: last.durationMs,
  };
  return { settled, outcomes, delivered };
}

/** A delivery this run did not start: put off to a new message at once, its lease (if any) given back. */
function handedOn(env: Env, j: Job): Settled {
  return { ...j, kind: "deferred", delaySeconds: 0, writes: leaseBack(env, j.job) };
}

/** Gives back the lease a stored delivery holds (a first attempt has no row, so nothing to give back). */
function leaseBack(env: Env, job: DeliveryJob): D1PreparedStatement[] {
  return job.stored ? [releaseDelivery(env.DB, job.organizationId, job.id)] : [];
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
    sweepAfter: null,
  };
  switch (step.kind) {
    case "delivered":
      return { ...base, status: "delivered", lastError: null, deliveredAt: now.toISOString() };
    case "failed":
      return { ...base, status: "failed", lastError: step.reason };
    case "retry_queue": {
      const due = now.getTime() + step.delaySeconds * 1000;
      return {
        ...base,
        status: "pending",
        queueRetries: queueRetries + 1,
        lastError: last.error ?? `HTTP ${last.statusCode}`,
        nextAttemptAt: new Date(due).toISOString(),
        sweepAfter: sweepAfter(due),
      };
    }
  }
}
