import type { Config } from "../config";
import { setEndpointSlowUntil } from "../db/endpoints/writes";
import type { DeliveryJob } from "../domain/delivery";
import type { DeliveryEndpoint } from "../domain/endpoint";
import { endpointHealth } from "../health/endpoint-health";
import type { AttemptOutcome } from "../health/policy";
import { deferralDelaySeconds } from "../health/rate-limit";
import { UnreadableSecretError } from "../lib/secret-box";
import { type AttemptSetting, type AttemptsMade, attemptDelivery } from "./attempt";
import type { EndpointConnections } from "./connections";
import { type EndpointCredentials, loadEndpointCredentials } from "./endpoint-credentials";
import type { Job } from "./job";
import { inSlowLane, type Lane, laneAfter } from "./lanes";
import { type DeliveredAttempt, logDelivered, observeAttempt } from "./observe";
import type { Settled } from "./outcome";
import { classifyAttempt, describeAttempt, retryAfterOf } from "./retry-policy";
import type { AttemptResult } from "./send";
import { checkEndpointUrl } from "./url-policy";

/**
 * One endpoint's share of a run: whether it may receive at all, its credentials opened once, its
 * rate-limit permits asked for once, its deliveries attempted, and their outcomes reported to its
 * health object once. Returns what became of each job, and the lane the endpoint's later messages go
 * to (lanes.ts): in the main lane, an endpoint in the slow lane is not attempted at all, and one this
 * run finds slow moves there. Recording and answering are the run's.
 */
export async function deliverToEndpoint(
  env: Env,
  config: Config,
  endpoint: DeliveryEndpoint | null,
  jobs: Job[],
  connections: EndpointConnections,
  lane: Lane,
): Promise<{ settled: Settled[]; lane: Lane }> {
  const target = deliveryTarget(endpoint, config);
  if (!target.ok) return { settled: jobs.map((j) => endedOrHeld(j, target)), lane };
  const slowNow = inSlowLane(target.endpoint, Date.now());
  if (lane === "main" && slowNow)
    return { settled: jobs.map((j) => ({ ...j, kind: "handed-on" })), lane: "slow" };
  const settled = await attemptEndpoint(env, config, target.endpoint, jobs, { connections, lane });
  const attempts = settled.flatMap((s) => (s.kind === "attempted" ? s.made.attempts : []));
  const change = laneAfter(lane, target.endpoint, attempts, config, Date.now());
  if (change) await moveLane(env, target.endpoint, change.slowUntil);
  const slowAfter = change ? change.slowUntil !== null : slowNow;
  return { settled, lane: slowAfter ? "slow" : "main" };
}

async function attemptEndpoint(
  env: Env,
  config: Config,
  endpoint: DeliveryEndpoint,
  jobs: Job[],
  { connections, lane }: Pick<AttemptSetting, "connections" | "lane">,
): Promise<Settled[]> {
  const ready = jobs.filter(({ job }) => job.content);
  // Retention removed the event before this delivery (a late replay) could be sent.
  const expired = jobs.filter(({ job }) => !job.content).map((j) => ended(j, "event_expired"));
  if (ready.length === 0) return expired;

  const credentials = await openCredentials(env, endpoint);
  if (!credentials.ok) return [...expired, ...ready.map((j) => ended(j, credentials.reason))];

  const health = endpointHealth(env, endpoint.id);
  const { now, deferred } = endpoint.rateLimitPerSecond
    ? await takeTurns(health, endpoint.rateLimitPerSecond, ready)
    : { now: ready, deferred: [] };
  if (now.length === 0) return [...expired, ...deferred];

  const setting = { config, endpoint, credentials: credentials.value, connections, lane };
  const attempted = await Promise.all(now.map((j) => attemptJob(setting, j)));
  const made = attempted.flatMap((s) => (s.kind === "attempted" ? [{ job: s.job, made: s.made }] : []));
  for (const { job, made: m } of made) observe(env, endpoint, job, m);
  logDelivered(
    endpoint,
    made.flatMap(({ job, made: m }) => deliveredOf(job, m)),
  );
  const outcomes = made.flatMap(({ made: m }) => healthOutcomes(m));
  if (outcomes.length > 0) await health.record(endpoint.id, outcomes);
  return [...expired, ...deferred, ...attempted];
}

/**
 * Writes the endpoint's new lane. A write that fails is logged and left: the next run measures the
 * endpoint again, and its deliveries are made whichever lane they go through.
 */
async function moveLane(env: Env, endpoint: DeliveryEndpoint, slowUntil: string | null): Promise<void> {
  try {
    await setEndpointSlowUntil(env.DB, endpoint.id, slowUntil).run();
    console.log(JSON.stringify({ message: "endpoint lane changed", endpointId: endpoint.id, slowUntil }));
  } catch (error) {
    console.error(
      JSON.stringify({ message: "endpoint lane not changed", endpointId: endpoint.id, error: String(error) }),
    );
  }
}

const ended = (j: Job, reason: string): Settled => ({ ...j, kind: "ended", reason });

/** A disabled endpoint's ordered deliveries keep their places: their lanes hold until it is enabled. */
const endedOrHeld = (j: Job, target: Refused): Settled =>
  j.job.ordered && target.untilEnabled ? { ...j, kind: "held" } : ended(j, target.reason);

/** Why an endpoint receives nothing now; `untilEnabled`: only until its owner (or a reset) enables it. */
type Refused = { ok: false; reason: string; untilEnabled: boolean };
type DeliveryTarget = { ok: true; endpoint: DeliveryEndpoint } | Refused;

/** Deliveries to a deleted or disabled endpoint, or to a URL the policy now refuses, end without a call. */
function deliveryTarget(endpoint: DeliveryEndpoint | null, config: Config): DeliveryTarget {
  if (!endpoint || endpoint.deletedAt) return { ok: false, reason: "endpoint_deleted", untilEnabled: false };
  if (endpoint.status !== "active") return { ok: false, reason: "endpoint_disabled", untilEnabled: true };
  if (!checkEndpointUrl(endpoint.url, config).ok)
    return { ok: false, reason: "url_not_allowed", untilEnabled: false };
  return { ok: true, endpoint };
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

/**
 * Rate limiting: the deliveries the endpoint's bucket has permits for go now; the others are put off
 * as new messages spread over the coming seconds. A deferral is not a failure and spends no retry.
 */
async function takeTurns(
  health: ReturnType<typeof endpointHealth>,
  ratePerSecond: number,
  jobs: Job[],
): Promise<{ now: Job[]; deferred: Settled[] }> {
  const { granted, nextPermitInMs } = await health.acquire(jobs.length, ratePerSecond);
  const deferred = jobs.slice(granted).map(
    (j, i): Settled => ({
      ...j,
      kind: "deferred",
      delaySeconds: deferralDelaySeconds(i, nextPermitInMs, ratePerSecond),
    }),
  );
  return { now: jobs.slice(0, granted), deferred };
}

/** One job's attempts; a job whose attempts throw goes round again whole. */
async function attemptJob(setting: AttemptSetting, j: Job): Promise<Settled> {
  try {
    const made = await attemptDelivery(setting, j.job);
    return made ? { ...j, kind: "attempted", made } : { ...j, kind: "handed-on" };
  } catch (error) {
    console.error(
      JSON.stringify({ message: "delivery failed unexpectedly", deliveryId: j.job.id, error: String(error) }),
    );
    return { ...j, kind: "crashed", error: `delivery failed unexpectedly: ${String(error)}` };
  }
}

/** One data point and, unless it delivered, one log line per attempt (observe.ts). */
function observe(
  env: Env,
  endpoint: DeliveryEndpoint,
  job: DeliveryJob,
  { attempts, results, step }: AttemptsMade,
) {
  results.forEach((result, i) => {
    const context = {
      endpoint,
      deliveryId: job.id,
      eventId: job.eventId,
      eventType: job.eventType,
      attempt: attempts[i]?.number ?? 0,
      traceId: attempts[i]?.traceId ?? "",
      spanId: attempts[i]?.spanId ?? "",
    };
    observeAttempt(env.DELIVERY_ANALYTICS, context, result, i === results.length - 1 ? step : null);
  });
}

/** The delivery's success in this run, if it had one, for the run's summary line. */
function deliveredOf(job: DeliveryJob, { attempts, step }: AttemptsMade): DeliveredAttempt[] {
  const last = attempts.at(-1);
  if (step.kind !== "delivered" || !last) return [];
  return [
    {
      deliveryId: job.id,
      eventId: job.eventId,
      attempt: last.number,
      traceId: last.traceId ?? "",
      statusCode: last.statusCode as number,
      durationMs: last.durationMs,
    },
  ];
}

/**
 * What the health object hears of a delivery's attempts. A request the runtime refused to make says
 * nothing of the endpoint's health; an answer asking for patience (retryAfterOf) counts only once the
 * delivery failed in the end.
 */
function healthOutcomes({ results, step }: AttemptsMade): AttemptOutcome[] {
  return results.filter((r) => !r.invalidRequest).map((r) => toOutcome(r, step.kind === "failed"));
}

function toOutcome(result: AttemptResult, deliveryFailed: boolean): AttemptOutcome {
  const verdict = classifyAttempt(result);
  const patient = retryAfterOf(result) !== undefined;
  return {
    at: Date.parse(result.startedAt) + result.durationMs,
    kind: verdict === "delivered" ? "success" : patient && !deliveryFailed ? "deferred" : "failure",
    statusCode: result.statusCode ?? null,
    error: verdict === "delivered" ? null : describeAttempt(result),
  };
}
