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
import { type DeliveryEndpoint, getDeliveryEndpoint } from "../db/endpoints";
import { getEvent } from "../db/events";
import { endpointHealth } from "../health/endpoint-health";
import type { AttemptOutcome } from "../health/policy";
import { deferralDelaySeconds } from "../health/rate-limit";
import type { EventId } from "../lib/ids";
import { UnreadableSecretError } from "../lib/secret-box";
import { type ConnectionGate, connectionGate } from "./connections";
import { type EndpointCredentials, loadEndpointCredentials } from "./endpoint-credentials";
import {
  type DeliveryMessage,
  isDeliveryMessage,
  type Received,
  readMessages,
  sendAll,
  sweepAfter,
  withIfFits,
} from "./messages";
import { type DeliveredAttempt, logDelivered, observeAttempt } from "./observe";
import { buildSignedRequest } from "./request";
import { classifyAttempt, describeAttempt, type NextStep, nextStep } from "./retry-policy";
import { type AttemptResult, attemptTimeoutMs, sendSignedRequest } from "./send";
import { checkEndpointUrl } from "./url-policy";

/**
 * A delivery to attempt now, and where it came from, which decides how it is answered for: a
 * message of its own on the deliveries queue, or fan-out, whose event message answers for it.
 */
export type Job = { job: DeliveryJob } & ({ source: "queue"; message: Message } | { source: "fan-out" });

/** Events some of whose first attempts a run could not settle, each with what went wrong. */
export type UnsettledEvents = Map<EventId, string>;

/**
 * What became of a job in this run. `writes`, and the row of a first attempt (`outcome`), go to D1
 * before anything is acknowledged or sent.
 */
type Settled = Job & { writes: D1PreparedStatement[]; outcome?: DeliveryOutcome } & (
    | { kind: "done" }
    | { kind: "retry"; delaySeconds: number }
    | { kind: "deferred"; delaySeconds: number }
    | { kind: "crashed"; error: string }
  );

/**
 * The `webhook-deliveries` consumer: retries and replays (leased and read from their rows) and first
 * attempts that fan-out handed on (which carry their event). Duplicates — a message whose delivery
 * has a row already, or twice in this batch — are acknowledged without an attempt. Each
 * organization's messages are read on their own: if that fails, they go round again, and only they.
 */
export async function deliverBatch(batch: MessageBatch, env: Env): Promise<void> {
  const config = getConfig(env);
  const seen = new Set<string>();
  const unique = readMessages(batch, isDeliveryMessage).filter(({ message, body }) => {
    const fresh = !seen.has(body.deliveryId);
    seen.add(body.deliveryId);
    if (!fresh) message.ack();
    return fresh;
  });
  const jobs = await Promise.all(
    [...Map.groupBy(unique, ({ body }) => body.organizationId)].map(([organizationId, received]) =>
      organizationJobs(env, config, organizationId, received),
    ),
  );
  await runDeliveries(env, config, jobs.flat());
}

/** A message that needs no attempt now: acknowledged, or retried after `delaySeconds`. */
type Skipped = { message: Message; delaySeconds?: number };
type Intake = { jobs: Job[]; skipped: Skipped[] };

async function organizationJobs(
  env: Env,
  config: Config,
  organizationId: string,
  received: Received<DeliveryMessage>[],
): Promise<Job[]> {
  let intakes: Intake[];
  try {
    intakes = await Promise.all([
      leasedJobs(
        env,
        config,
        organizationId,
        received.filter(({ body }) => !body.first),
      ),
      firstAttemptJobs(
        env,
        organizationId,
        received.filter(({ body }) => body.first),
      ),
    ]);
  } catch (error) {
    console.error(
      JSON.stringify({ message: "delivery intake failed", organizationId, error: String(error) }),
    );
    for (const { message } of received) message.retry();
    return [];
  }
  for (const { message, delaySeconds } of intakes.flatMap((i) => i.skipped)) {
    if (delaySeconds === undefined) message.ack();
    else message.retry({ delaySeconds });
  }
  return intakes.flatMap((i) => i.jobs);
}

/** Retries and replays: the rows this run leased. One held by another run comes back when that lease ends. */
async function leasedJobs(
  env: Env,
  config: Config,
  organizationId: string,
  received: Received<DeliveryMessage>[],
): Promise<Intake> {
  if (received.length === 0) return { jobs: [], skipped: [] };
  const seconds = leaseSeconds(config);
  const now = Date.now();
  const { leased, rows } = await leaseDeliveries(
    env.DB,
    organizationId,
    received.map(({ body }) => body.deliveryId),
    new Date(now).toISOString(),
    new Date(now + seconds * 1000).toISOString(),
  );
  const intake: Intake = { jobs: [], skipped: [] };
  for (const { message, body } of received) {
    const row = rows.get(body.deliveryId);
    if (row && leased.has(row.id)) intake.jobs.push({ source: "queue", message, job: row });
    else if (row?.status === "pending") intake.skipped.push({ message, delaySeconds: seconds });
    else intake.skipped.push({ message }); // settled already (a duplicate message), or gone (retention)
  }
  return intake;
}

/** First attempts handed on by fan-out; one that has a row was made already. */
async function firstAttemptJobs(
  env: Env,
  organizationId: string,
  received: Received<DeliveryMessage>[],
): Promise<Intake> {
  if (received.length === 0) return { jobs: [], skipped: [] };
  const stored = await storedDeliveryIds(
    env.DB,
    organizationId,
    received.map(({ body }) => body.deliveryId),
  );
  const todo = received.filter(({ body }) => !stored.has(body.deliveryId));
  // An event too large to ride along is read (null once retention removed it).
  const events = await Promise.all(
    todo.map(({ body }) => body.first?.event ?? getEvent(env.DB, organizationId, body.eventId)),
  );
  return {
    jobs: todo.map(({ message, body }, i) => {
      const event = events[i];
      const content = event && { data: event.data, resources: event.resources, occurredAt: event.occurredAt };
      return {
        source: "queue",
        message,
        job: firstAttemptJob(body, body.first?.eventType ?? "", content ?? null),
      };
    }),
    skipped: received.filter(({ body }) => stored.has(body.deliveryId)).map(({ message }) => ({ message })),
  };
}

/**
 * Attempts `jobs`, grouped by endpoint: each group reads its endpoint and secrets once, asks the
 * endpoint's health object for rate-limit permits once (when the endpoint has a limit), reports its
 * outcomes to it once, and records every attempt and delivery in one D1 batch; only after that are
 * its messages acknowledged, retried or sent. Attempts go six at a time across the run (connections.ts);
 * a delivery not started within the run's budget is handed on to a new message. Whatever goes wrong
 * for one group — its D1 batch, its endpoint's secrets, its health object — goes wrong for it alone:
 * its messages go round again (a first attempt finds no row), the other groups are answered as usual.
 * Returns the events of fan-out's jobs that could not be settled, for fan-out to retry.
 */
export async function runDeliveries(
  env: Env,
  config: Config,
  jobs: Job[],
  knownEndpoints: ReadonlyMap<string, DeliveryEndpoint> = new Map(),
): Promise<UnsettledEvents> {
  const connections = connectionGate(Date.now() + startBudgetMs(config));
  const settled = await Promise.all(
    [...Map.groupBy(jobs, ({ job }) => job.endpointId)].map(([endpointId, group]) =>
      settleEndpointGroup(env, config, knownEndpoints.get(endpointId), endpointId, group, connections),
    ),
  );
  return followUp(env, settled.flat());
}

async function settleEndpointGroup(
  env: Env,
  config: Config,
  known: DeliveryEndpoint | undefined,
  endpointId: string,
  jobs: Job[],
  connections: ConnectionGate,
): Promise<Settled[]> {
  try {
    const endpoint = known ?? (await getDeliveryEndpoint(env.DB, endpointId));
    const settled = await deliverToEndpoint(env, config, endpoint, jobs, connections);
    const writes = [
      ...settled.flatMap((s) => s.writes),
      ...insertDeliveryOutcomes(
        env.DB,
        settled.flatMap((s) => (s.outcome ? [s.outcome] : [])),
      ),
    ];
    if (writes.length > 0) await env.DB.batch(writes);
    return settled;
  } catch (error) {
    console.error(JSON.stringify({ message: "delivery run failed", endpointId, error: String(error) }));
    return jobs.map((j) => ({
      ...j,
      kind: "crashed",
      error: `delivery run failed: ${String(error)}`,
      writes: [],
    }));
  }
}

/**
 * After the run is recorded: acknowledge, retry through the queue, or hand on to a later message.
 * Returns the events whose fan-out jobs could not be settled.
 */
async function followUp(env: Env, settled: Settled[]): Promise<UnsettledEvents> {
  const unsettled: UnsettledEvents = new Map();
  const later: { body: DeliveryMessage; delaySeconds: number }[] = [];
  for (const s of settled) {
    const { job } = s;
    if (s.kind === "crashed") {
      if (s.source === "queue") s.message.retry();
      else unsettled.set(job.eventId, s.error);
    } else if (s.kind === "done") {
      if (s.source === "queue") s.message.ack();
    } else if (s.kind === "retry" && s.source === "queue") s.message.retry({ delaySeconds: s.delaySeconds });
    // Its row is written now, so what comes back is a retry of a stored delivery.
    else if (s.kind === "retry")
      later.push({ body: messageFor({ ...job, stored: true }), delaySeconds: s.delaySeconds });
    else if (s.kind === "deferred") later.push({ body: messageFor(job), delaySeconds: s.delaySeconds });
  }
  const deferred = settled.filter((s) => s.kind === "deferred");
  try {
    await sendAll(env.DELIVERIES_QUEUE, later);
  } catch (error) {
    // A deferred message still held goes back to the queue; a written pending row is swept later.
    for (const s of deferred) {
      if (s.source === "queue") s.message.retry({ delaySeconds: 1 });
      else unsettled.set(s.job.eventId, `deliveries could not be queued: ${String(error)}`);
    }
    return unsettled;
  }
  for (const s of deferred) if (s.source === "queue") s.message.ack();
  return unsettled;
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
  endpoint: DeliveryEndpoint | null,
  jobs: Job[],
  connections: ConnectionGate,
): Promise<Settled[]> {
  const target = deliveryTarget(endpoint, config);
  if (!target.ok)
    return jobs.map((j) => ({ ...j, kind: "done", writes: failDelivery(env.DB, j.job, target.reason) }));

  const fail = (j: Job, reason: string): Settled => ({
    ...j,
    kind: "done",
    writes: failDelivery(env.DB, j.job, reason),
  });
  const ready = jobs.filter(({ job }) => job.content);
  // Retention removed the event before this delivery (a late replay) could be sent.
  const expired = jobs.filter(({ job }) => !job.content).map((j) => fail(j, "event_expired"));
  if (ready.length === 0) return expired;

  const credentials = await openCredentials(env, target.endpoint);
  if (!credentials.ok) return [...expired, ...ready.map((j) => fail(j, credentials.reason))];

  const health = endpointHealth(env, target.endpoint.id);
  const { now, deferred } = target.endpoint.rateLimitPerSecond
    ? await takeTurns(health, target.endpoint.rateLimitPerSecond, ready)
    : { now: ready, deferred: [] };
  if (now.length === 0) return [...expired, ...deferred];

  const runs = await Promise.all(
    now.map((j) =>
      attemptJob({ env, config, endpoint: target.endpoint, credentials: credentials.value, connections }, j),
    ),
  );
  logDelivered(
    target.endpoint,
    runs.flatMap((r) => (r.delivered ? [r.delivered] : [])),
  );
  const outcomes = runs.flatMap((r) => r.outcomes);
  if (outcomes.length > 0) await health.record(target.endpoint.id, outcomes);
  return [...expired, ...deferred, ...runs.map((r) => r.settled)];
}

/**
 * The endpoint's credentials, or why its deliveries fail without an attempt: a secret no configured
 * key opens (SECRETS_KEY changed without SECRETS_KEY_PREVIOUS, say) fails that endpoint's deliveries,
 * recoverable once the key is back (docs/security.md), and nothing else. Other errors are thrown:
 * D1 may be back on the next try.
 */
async function openCredentials(
  env: Env,
  endpoint: DeliveryEndpoint,
): Promise<{ ok: true; value: EndpointCredentials } | { ok: false; reason: string }> {
  try {
    return { ok: true, value: await loadEndpointCredentials(env, endpoint) };
  } catch (error) {
    if (!(error instanceof UnreadableSecretError)) throw error;
    console.error(
      JSON.stringify({
        message: "endpoint secret unreadable",
        endpointId: endpoint.id,
        context: error.context,
      }),
    );
    return { ok: false, reason: `secret_unreadable: ${error.context} opens with no configured SECRETS_KEY` };
  }
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

type DeliveryTarget = { ok: true; endpoint: DeliveryEndpoint } | { ok: false; reason: string };

/** Deliveries to a deleted or disabled endpoint, or to a URL the policy now refuses, end without a call. */
function deliveryTarget(endpoint: DeliveryEndpoint | null, config: Config): DeliveryTarget {
  if (!endpoint || endpoint.deletedAt) return { ok: false, reason: "endpoint_deleted" };
  if (endpoint.status !== "active") return { ok: false, reason: "endpoint_disabled" };
  if (!checkEndpointUrl(endpoint.url, config).ok) return { ok: false, reason: "url_not_allowed" };
  return { ok: true, endpoint };
}

/** What every attempt to one endpoint in this run shares. */
type EndpointRun = {
  env: Env;
  config: Config;
  endpoint: DeliveryEndpoint;
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
    const crashed = `delivery failed unexpectedly: ${String(error)}`;
    return {
      settled: { ...j, kind: "crashed", error: crashed, writes: leaseBack(run.env, j.job) },
      outcomes: [],
    };
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
    observeAttempt(
      env.DELIVERY_ANALYTICS,
      { endpoint, deliveryId: job.id, eventId: job.eventId, eventType: job.eventType, attempt: number },
      result,
      step,
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
  // A request the runtime refused to make says nothing of the endpoint's health.
  const outcomes = results.filter((r) => !r.invalidRequest).map((r) => toOutcome(r, step.kind === "failed"));
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
