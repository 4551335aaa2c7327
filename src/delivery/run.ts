import type { Config } from "../config";
import { getDeliveryEndpoint } from "../db/endpoints/reads";
import { dataOf } from "../db/shards";
import type { DeliveryMessage } from "../domain/delivery";
import type { DeliveryEndpoint } from "../domain/endpoint";
import type { EndpointId, OrganizationId } from "../lib/ids";
import { sendAll } from "../lib/queue";
import { type ConnectionGate, connectionGate } from "./connections";
import { deliverToEndpoint } from "./endpoint-group";
import { type Job, messageFor } from "./job";
import { laneReportOf, type PendingReport, reportToLanes } from "./lane-reports";
import type { Lane } from "./lanes";
import type { Settled, UnsettledEvents } from "./outcome";
import { recordStatements } from "./record";

/**
 * A delivery run: `jobs` grouped by endpoint, each group delivered (endpoint-group.ts) and recorded in
 * one D1 batch (record.ts); only after that are its messages acknowledged, retried or sent on.
 * Attempts go five at a time across the run, each endpoint its fair share (connections.ts); a delivery not started within the run's
 * time is handed on to a new message. Whatever goes wrong for one group — its D1 batch, its endpoint's
 * secrets, its health object — goes wrong for it alone: its messages go round again (a first attempt
 * finds no row), the other groups are answered as usual. Returns the events of fan-out's jobs that
 * could not be settled, for fan-out to retry.
 */
export async function runDeliveries(
  env: Env,
  config: Config,
  jobs: Job[],
  knownEndpoints: ReadonlyMap<string, DeliveryEndpoint> = new Map(),
  lane: Lane = "main",
): Promise<UnsettledEvents> {
  const endpointIds = new Set(jobs.map(({ job }) => job.endpointId));
  const connections = connectionGate(Date.now() + startBudgetMs(config), endpointIds);
  const groups = await Promise.all(
    [...Map.groupBy(jobs, ({ job }) => job.endpointId)].map(([endpointId, group]) =>
      settleEndpointGroup(env, config, knownEndpoints.get(endpointId), endpointId, group, connections, lane),
    ),
  );
  return followUp(env, groups);
}

/** An endpoint's jobs as the run left them, and the lane its later messages go to (lanes.ts). */
type SettledGroup = { settled: Settled[]; lane: Lane };

async function settleEndpointGroup(
  env: Env,
  config: Config,
  known: DeliveryEndpoint | undefined,
  endpointId: EndpointId,
  jobs: Job[],
  connections: ConnectionGate,
  lane: Lane,
): Promise<SettledGroup> {
  try {
    const endpoint = known ?? (await getDeliveryEndpoint(env.DB, endpointId));
    const group = await deliverToEndpoint(
      env,
      config,
      endpoint,
      jobs,
      connections.of(endpointId),
      lane,
    ).finally(() => connections.done(endpointId));
    const history = await dataOf(env, organizationOf(jobs));
    const writes = await recordStatements(history, group.settled);
    if (writes.length > 0) await history.db.batch(writes);
    return group;
  } catch (error) {
    console.error(JSON.stringify({ message: "delivery run failed", endpointId, error: String(error) }));
    return {
      settled: jobs.map((j) => ({ ...j, kind: "crashed", error: `delivery run failed: ${String(error)}` })),
      lane,
    };
  }
}

/** The organization of an endpoint group: its jobs are all for one endpoint, so of one organization. */
function organizationOf(jobs: Job[]): OrganizationId {
  const [first] = jobs;
  if (!first) throw new Error("an endpoint group without jobs");
  return first.job.organizationId;
}

/** A message the run sends on, to its endpoint's lane, and what it stands for. */
type Later = { lane: Lane; body: DeliveryMessage; delaySeconds: number; settled?: Settled };

/**
 * After the run is recorded: acknowledge, retry through the queue, or send on as a later message to
 * the endpoint's lane. Returns the events whose fan-out jobs could not be settled.
 */
async function followUp(env: Env, groups: SettledGroup[]): Promise<UnsettledEvents> {
  const unsettled: UnsettledEvents = new Map();
  const later: Later[] = [];
  const reports: PendingReport[] = [];
  const now = Date.now();
  for (const { settled, lane } of groups) {
    for (const s of settled) {
      const { job } = s;
      const report = s.source === "queue" && job.ordered ? laneReportOf(s, job.ordered, now) : null;
      if (report) {
        reports.push(report);
        continue;
      }
      const retryIn =
        s.kind === "attempted" && s.made.step.kind === "retry_queue" ? s.made.step.delaySeconds : null;
      if (s.kind === "crashed") {
        if (s.source === "queue") s.message.retry();
        else unsettled.set(job.eventId, s.error);
      } else if (retryIn !== null) {
        // A queue job's own message comes back; a fan-out job's row is written now, so what comes back
        // is a retry of a stored delivery.
        if (s.source === "queue") s.message.retry({ delaySeconds: retryIn });
        else later.push({ lane, body: messageFor({ ...job, stored: true }), delaySeconds: retryIn });
      } else if (s.kind === "deferred" || s.kind === "handed-on") {
        const delaySeconds = s.kind === "deferred" ? s.delaySeconds : 0;
        later.push({ lane, body: messageFor(job), delaySeconds, settled: s });
      } else if (s.source === "queue") {
        s.message.ack(); // delivered, failed, or ended without an attempt
      }
    }
  }
  await Promise.all([reportToLanes(env, reports), sendOn(env, later, unsettled)]);
  return unsettled;
}

/** Sends the run's later messages to their endpoints' lanes (lanes.ts), then answers what they stand for. */
async function sendOn(env: Env, later: Later[], unsettled: UnsettledEvents): Promise<void> {
  await Promise.all(
    [...Map.groupBy(later, (l) => l.lane)].map(async ([lane, messages]) => {
      const sentOn = messages.flatMap((m) => (m.settled ? [m.settled] : []));
      try {
        await sendAll(lane === "slow" ? env.SLOW_DELIVERIES_QUEUE : env.DELIVERIES_QUEUE, messages);
      } catch (error) {
        // A message still held goes back to the queue; a written pending row is swept later.
        for (const s of sentOn) {
          if (s.source === "queue") s.message.retry({ delaySeconds: 1 });
          else unsettled.set(s.job.eventId, `deliveries could not be queued: ${String(error)}`);
        }
        return;
      }
      for (const s of sentOn) if (s.source === "queue") s.message.ack();
    }),
  );
}

/** How long a run keeps starting deliveries (two attempt timeouts); later ones go on to another run. */
function startBudgetMs(config: Config): number {
  return 2 * config.deliveryTimeoutMs;
}

/**
 * How long a run leases the deliveries it reads: long enough for a whole run: the start budget, a
 * started delivery's inline retries waiting behind those of the others started with it (about twice
 * the budget at most, six connections at a time), its own attempts all timing out with the delays
 * between them, and a margin.
 */
export function leaseSeconds(config: Config): number {
  const inlineMs = config.inlineRetryDelaysMs.reduce((sum, ms) => sum + ms, 0);
  const ownMs = (config.inlineRetryDelaysMs.length + 1) * config.deliveryTimeoutMs + inlineMs;
  return Math.ceil((3 * startBudgetMs(config) + ownMs) / 1000) + 30;
}
