import { type Config, getConfig } from "../config";
import type { History } from "../db/buckets";
import { leaseDeliveries } from "../db/deliveries/consumer";
import { getEvent } from "../db/events";
import { storedIds } from "../db/id-ranges";
import { dataOf } from "../db/shards";
import type { DeliveryMessage, LaneTurn } from "../domain/delivery";
import type { OrganizationId } from "../lib/ids";
import { type Received, readMessages } from "../lib/queue";
import { contentOf, firstAttemptJob, isDeliveryMessage, type Job } from "./job";
import { type PendingReport, reportToLanes } from "./lane-reports";
import type { Lane } from "./lanes";
import { leaseSeconds, runDeliveries } from "./run";

/**
 * The `webhook-deliveries` consumer, and in the slow lane `webhook-deliveries-slow`'s (lanes.ts): retries and replays (leased and read from their rows) and first
 * attempts that fan-out handed on (which carry their event). Duplicates — a message whose delivery
 * has a row already, or twice in this batch — are acknowledged without an attempt. Each
 * organization's messages are read on their own: if that fails, they go round again, and only they.
 */
export async function deliverBatch(batch: MessageBatch, env: Env, lane: Lane = "main"): Promise<void> {
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
  await runDeliveries(env, config, jobs.flat(), new Map(), lane);
}

/** A message that needs no attempt now: acknowledged, or retried after `delaySeconds`. */
type Skipped = { message: Message; delaySeconds?: number };
type Intake = { jobs: Job[]; skipped: Skipped[] };

async function organizationJobs(
  env: Env,
  config: Config,
  organizationId: OrganizationId,
  received: Received<DeliveryMessage>[],
): Promise<Job[]> {
  let intakes: Intake[];
  try {
    const history = await dataOf(env, organizationId);
    intakes = await Promise.all([
      leasedJobs(
        history,
        config,
        organizationId,
        received.filter(({ body }) => !body.first && !body.ordered),
      ),
      firstAttemptJobs(
        history,
        organizationId,
        received.filter(({ body }) => body.first && !body.ordered),
      ),
      orderedJobs(
        env,
        history,
        config,
        organizationId,
        received.filter(({ body }) => body.ordered),
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

/** Leases the deliveries of `received` for a run (leaseSeconds), and reads those that exist. */
async function leaseReceived(
  history: History,
  config: Config,
  organizationId: OrganizationId,
  received: Received<DeliveryMessage>[],
) {
  const seconds = leaseSeconds(config);
  const now = Date.now();
  const lease = await leaseDeliveries(
    history,
    organizationId,
    received.map(({ body }) => body.deliveryId),
    new Date(now).toISOString(),
    new Date(now + seconds * 1000).toISOString(),
  );
  return { ...lease, seconds };
}

/** Retries and replays: the rows this run leased. One held by another run comes back when that lease ends. */
async function leasedJobs(
  history: History,
  config: Config,
  organizationId: OrganizationId,
  received: Received<DeliveryMessage>[],
): Promise<Intake> {
  if (received.length === 0) return { jobs: [], skipped: [] };
  const { leased, rows, seconds } = await leaseReceived(history, config, organizationId, received);
  const intake: Intake = { jobs: [], skipped: [] };
  for (const { message, body } of received) {
    const row = rows.get(body.deliveryId);
    if (row && leased.has(row.id)) intake.jobs.push({ source: "queue", message, job: row });
    else if (row?.status === "pending") intake.skipped.push({ message, delaySeconds: seconds });
    else intake.skipped.push({ message }); // settled already (a duplicate message), or gone (retention)
  }
  return intake;
}

/**
 * Deliveries their ordered lanes sent (src/ordering/): a row leased and read when there is one (a
 * retry, a replay, or a first attempt recorded before its report was lost), else a first attempt, its
 * event read. One whose row is settled already (its lane sent it again after a lost report) is only
 * reported, so the lane goes on.
 */
async function orderedJobs(
  env: Env,
  history: History,
  config: Config,
  organizationId: OrganizationId,
  received: Received<DeliveryMessage>[],
): Promise<Intake> {
  if (received.length === 0) return { jobs: [], skipped: [] };
  const { leased, rows, seconds } = await leaseReceived(history, config, organizationId, received);
  const intake: Intake = { jobs: [], skipped: [] };
  const reports: PendingReport[] = [];
  const firsts: Received<DeliveryMessage>[] = [];
  for (const r of received) {
    const { message, body } = r;
    const turn = body.ordered as LaneTurn;
    const row = rows.get(body.deliveryId);
    if (row && leased.has(row.id))
      intake.jobs.push({ source: "queue", message, job: { ...row, ordered: turn } });
    else if (row?.status === "pending") intake.skipped.push({ message, delaySeconds: seconds });
    else if (row) {
      const outcome = { kind: row.status === "delivered" ? ("delivered" as const) : ("failed" as const) };
      reports.push({ endpointId: body.endpointId, report: { turn, outcome }, message, retrySeconds: 1 });
    } else firsts.push(r);
  }
  const events = await Promise.all(firsts.map(({ body }) => getEvent(history, organizationId, body.eventId)));
  firsts.forEach(({ message, body }, i) => {
    const event = events[i];
    const job = firstAttemptJob(body, body.first?.eventType ?? "", event ? contentOf(event) : null);
    intake.jobs.push({ source: "queue", message, job: { ...job, ordered: body.ordered } });
  });
  await reportToLanes(env, reports);
  return intake;
}

/** First attempts handed on by fan-out; one that has a row was made already. */
async function firstAttemptJobs(
  history: History,
  organizationId: OrganizationId,
  received: Received<DeliveryMessage>[],
): Promise<Intake> {
  if (received.length === 0) return { jobs: [], skipped: [] };
  const stored = await storedIds(
    history,
    "deliveries",
    organizationId,
    received.map(({ body }) => body.deliveryId),
  );
  const todo = received.filter(({ body }) => !stored.has(body.deliveryId));
  // An event too large to ride along is read (null once retention removed it).
  const events = await Promise.all(
    todo.map(({ body }) => body.first?.event ?? getEvent(history, organizationId, body.eventId)),
  );
  return {
    jobs: todo.map(({ message, body }, i) => {
      const event = events[i];
      const content = event && contentOf({ ...event, traceId: event.traceId ?? body.first?.traceId });
      return {
        source: "queue",
        message,
        job: firstAttemptJob(body, body.first?.eventType ?? "", content ?? null),
      };
    }),
    skipped: received.filter(({ body }) => stored.has(body.deliveryId)).map(({ message }) => ({ message })),
  };
}
