import { type Config, getConfig } from "../config";
import type { History } from "../db/buckets";
import { leaseDeliveries } from "../db/deliveries/consumer";
import { getEvent } from "../db/events";
import { storedIds } from "../db/id-ranges";
import { dataOf } from "../db/shards";
import type { OrganizationId } from "../lib/ids";
import { type Received, readMessages } from "../lib/queue";
import { type DeliveryMessage, firstAttemptJob, isDeliveryMessage, type Job } from "./job";
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
        received.filter(({ body }) => !body.first),
      ),
      firstAttemptJobs(
        history,
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
  history: History,
  config: Config,
  organizationId: OrganizationId,
  received: Received<DeliveryMessage>[],
): Promise<Intake> {
  if (received.length === 0) return { jobs: [], skipped: [] };
  const seconds = leaseSeconds(config);
  const now = Date.now();
  const { leased, rows } = await leaseDeliveries(
    history,
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
      const content = event && {
        data: event.data,
        resources: event.resources,
        occurredAt: event.occurredAt,
        traceId: event.traceId ?? body.first?.traceId,
      };
      return {
        source: "queue",
        message,
        job: firstAttemptJob(body, body.first?.eventType ?? "", content ?? null),
      };
    }),
    skipped: received.filter(({ body }) => stored.has(body.deliveryId)).map(({ message }) => ({ message })),
  };
}
