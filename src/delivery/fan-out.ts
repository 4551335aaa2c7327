import { endpointReceives } from "../catalog/filters";
import { getConfig } from "../config";
import type { History } from "../db/buckets";
import { listDeliveryEndpoints, listSubscriptions } from "../db/endpoints/reads";
import { getEvent, insertEvent, markEventsFannedOut, noteFanOutError } from "../db/events";
import { storedIds } from "../db/id-ranges";
import { dataOf } from "../db/shards";
import type { DeliveryEndpoint, Subscription } from "../domain/endpoint";
import type { EventRecord } from "../domain/event";
import { type EventMessage, isEventMessage } from "../events/message";
import { type EndpointId, type EventId, fanOutDeliveryId, type OrganizationId } from "../lib/ids";
import { readMessages, sendAll, sweepAfter } from "../lib/queue";
import { contentOf, firstAttemptJob, type Job, messageFor } from "./job";
import { handToLanes, isOrderedPair, type OrderedPair, type Pair } from "./ordered-hand-off";
import type { UnsettledEvents } from "./outcome";
import { runDeliveries } from "./run";

/**
 * First attempts made inside one fan-out run (a batch of 100 events to 10 endpoints each); beyond it
 * they go on as delivery messages, spread over concurrent consumers, as do those the run could not
 * start within its time (six connections at a time, see connections.ts). With inline retries an
 * attempt takes up to three subrequests, well within Workers' 10,000 per invocation.
 */
export const INLINE_FIRST_ATTEMPTS = 1000;

/**
 * The `webhook-events` consumer. For each event, every matching active endpoint gets its first
 * attempt right here, without a second trip through a queue; only retries, deferrals and what is
 * beyond INLINE_FIRST_ATTEMPTS go on as delivery messages. Nothing is written before an attempt: a
 * delivery's row is written with its outcome. Safe to run twice: delivery ids are derived from
 * (event, endpoint), and a pair that has a row is not attempted again.
 *
 * Each message is answered on its own: an event whose fan-out did not complete goes round again,
 * and only it; the others of the batch, whoever published them, are acknowledged.
 */
export async function fanOutBatch(batch: MessageBatch, env: Env): Promise<void> {
  const received = readMessages(batch, isEventMessage);
  const unsettled = await fanOut(
    env,
    received.map((r) => r.body),
  );
  for (const { message, body } of received) {
    if (unsettled.has(body.eventId)) message.retry();
    else message.ack();
  }
}

/** What fan-out found to do for one organization's events, or why it could not find out. */
export type Plan =
  | {
      organizationId: OrganizationId;
      events: EventRecord[];
      pairs: Pair[];
    }
  | { organizationId: OrganizationId; failed: EventMessage[]; error: string };

/**
 * Fans `messages` out and records where each event stands: done, or its error and still due for the
 * sweeper. Returns the events whose fan-out did not complete: their messages go round again.
 */
export async function fanOut(
  env: Env,
  messages: readonly EventMessage[],
  inlineLimit = INLINE_FIRST_ATTEMPTS,
): Promise<Set<EventId>> {
  const plans = await Promise.all(
    [...Map.groupBy(messages, (m) => m.organizationId)].map(([organizationId, group]) =>
      planOrganization(env, organizationId, group, (history) => eventsOf(history, organizationId, group)),
    ),
  );
  return deliverPlans(env, plans, inlineLimit);
}

/**
 * Makes the first attempts `plans` found to do, up to `inlineLimit` of them in this run and the rest
 * as delivery messages, and records where each event stands. Returns the events whose fan-out did not
 * complete.
 */
export async function deliverPlans(env: Env, plans: Plan[], inlineLimit: number): Promise<Set<EventId>> {
  const unsettled: UnsettledEvents = new Map();
  const jobs: Job[] = [];
  const endpoints = new Map<string, DeliveryEndpoint>();
  const handOns: Promise<void>[] = [];
  for (const plan of plans) {
    if ("failed" in plan) {
      for (const m of plan.failed) unsettled.set(m.eventId, plan.error);
      continue;
    }
    const handedOn: Job[] = [];
    const ordered: OrderedPair[] = [];
    for (const pair of plan.pairs) {
      if (isOrderedPair(pair)) {
        ordered.push(pair);
        continue;
      }
      const { event, endpoint, id } = pair;
      endpoints.set(endpoint.id, endpoint);
      const job: Job = {
        source: "fan-out",
        job: firstAttemptJob(
          {
            organizationId: event.organizationId,
            deliveryId: id,
            endpointId: endpoint.id,
            eventId: event.id,
          },
          event.type,
          contentOf(event),
        ),
      };
      if (jobs.length < inlineLimit) jobs.push(job);
      else handedOn.push(job);
    }
    handOns.push(handOn(env, handedOn, unsettled));
    if (ordered.length > 0) handOns.push(handOrdered(env, plan.organizationId, ordered, unsettled));
  }
  await Promise.all(handOns);
  for (const [eventId, error] of await runDeliveries(env, getConfig(env), jobs, endpoints)) {
    unsettled.set(eventId, error);
  }
  await recordFanOut(env, plans, unsettled);
  return new Set(unsettled.keys());
}

/** Ordered deliveries go to their endpoints' lanes (ordered-hand-off.ts), on the organization's shard. */
async function handOrdered(
  env: Env,
  organizationId: OrganizationId,
  pairs: OrderedPair[],
  unsettled: UnsettledEvents,
): Promise<void> {
  try {
    await handToLanes(env, getConfig(env), await dataOf(env, organizationId), pairs, unsettled);
  } catch (error) {
    for (const { event } of pairs) unsettled.set(event.id, `ordered hand-off failed: ${String(error)}`);
  }
}

/** Fan-out reads an organization's subscriptions this many at a time. */
export const SUBSCRIPTIONS_PAGE = 500;

/**
 * One organization's events (`group`, as `read` finds them stored) and the (event, endpoint) pairs
 * that have no delivery yet. Subscriptions are matched a page at a time; only the endpoints some event
 * matched are then read for delivery. Whatever fails here fails for this organization's events alone.
 */
export async function planOrganization(
  env: Env,
  organizationId: OrganizationId,
  group: EventMessage[],
  read: (history: History) => Promise<EventRecord[]>,
): Promise<Plan> {
  try {
    const history = await dataOf(env, organizationId);
    const events = await read(history);
    const matches: { event: EventRecord; endpointId: EndpointId }[] = [];
    let after = "";
    while (events.length > 0) {
      const page = await listSubscriptions(env.DB, organizationId, after, SUBSCRIPTIONS_PAGE);
      for (const subscription of page) {
        for (const event of events) {
          if (receives(subscription, event)) matches.push({ event, endpointId: subscription.id });
        }
      }
      const last = page.at(-1);
      if (page.length < SUBSCRIPTIONS_PAGE || !last) break;
      after = last.id;
    }
    const endpoints = new Map(
      (
        await listDeliveryEndpoints(env.DB, organizationId, [...new Set(matches.map((m) => m.endpointId))])
      ).map((endpoint) => [endpoint.id as string, endpoint]),
    );
    const pairs = await pairsOf(matches, endpoints);
    const done = await storedIds(
      history,
      "deliveries",
      organizationId,
      pairs.map((p) => p.id),
    );
    const todo: typeof pairs = [];
    for (const pair of pairs) {
      // An ordered delivery's row is written before its lane takes it: if that failed, it is handed
      // on again (a lane takes what it holds or has just settled only once).
      if (done.has(pair.id) && !isOrderedPair(pair)) continue;
      done.add(pair.id); // the same event twice in this batch: once is enough
      todo.push(pair);
    }
    return { organizationId, events, pairs: todo };
  } catch (error) {
    console.error(JSON.stringify({ message: "fan-out failed", organizationId, error: String(error) }));
    return { organizationId, failed: group, error: `fan-out failed: ${String(error)}` };
  }
}

/**
 * endpointReceives, except that a stored payload filter it cannot evaluate (a path the API's
 * validation refuses, which only a row written otherwise can hold) lets the event through, logged:
 * that endpoint receives more than it asked for, where a throw would fail the fan-out of every event
 * of its organization, for every endpoint, and an event left out would be dropped without a trace.
 */
function receives(subscription: Subscription, event: EventRecord): boolean {
  try {
    return endpointReceives(subscription, event);
  } catch (error) {
    console.error(
      JSON.stringify({
        message: "payload filter unreadable; event delivered unfiltered",
        endpointId: subscription.id,
        eventId: event.id,
        error: String(error),
      }),
    );
    return true;
  }
}

/** Delivery ids derived between two looks at the isolate's other requests (pairsOf). */
const IDS_AT_ONCE = 1000;

/**
 * The matches' pairs, with their delivery ids, a thousand at a time, the isolate's other requests let
 * in between: a batch of 35 events to 1,000 endpoints derives 35,000 ids, half a second of CPU that in
 * one go held every request the isolate was serving (docs/performance.md#reading-it).
 */
async function pairsOf(
  matches: readonly { event: EventRecord; endpointId: EndpointId }[],
  endpoints: ReadonlyMap<string, DeliveryEndpoint>,
): Promise<Pair[]> {
  const pairs: Pair[] = [];
  for (let start = 0; start < matches.length; start += IDS_AT_ONCE) {
    if (start > 0) await scheduler.wait(0);
    const slice = matches.slice(start, start + IDS_AT_ONCE).flatMap(({ event, endpointId }) => {
      const endpoint = endpoints.get(endpointId);
      if (!endpoint) return []; // deleted since it was matched
      return [fanOutDeliveryId(event.id, endpoint.id).then((id) => ({ event, endpoint, id }))];
    });
    pairs.push(...(await Promise.all(slice)));
  }
  return pairs;
}

/** First attempts beyond the run's limit go on as delivery messages; if that send fails, their events go round again. */
async function handOn(env: Env, jobs: Job[], unsettled: UnsettledEvents): Promise<void> {
  if (jobs.length === 0) return;
  try {
    await sendAll(env.DELIVERIES_QUEUE, messagesOf(jobs));
  } catch (error) {
    for (const { job } of jobs)
      unsettled.set(job.eventId, `deliveries could not be queued: ${String(error)}`);
  }
}

/** Made as sendAll sends them, a batch at a time: 34,000 made in one go would hold the isolate as ids did. */
function* messagesOf(jobs: readonly Job[]) {
  for (const { job } of jobs) yield { body: messageFor(job) };
}

/**
 * Each event fanned out is marked done; each that was not keeps its error for its owner to see and
 * stays due for the sweeper. One D1 batch per organization, on its shard: if one fails, the sweeper
 * sends its done events once more and fan-out finds nothing left to do for them.
 */
async function recordFanOut(env: Env, plans: Plan[], unsettled: UnsettledEvents): Promise<void> {
  const due = sweepAfter(Date.now());
  await Promise.all(
    plans.map(async (plan) => {
      const ids = "failed" in plan ? plan.failed.map((m) => m.eventId) : plan.events.map((e) => e.id);
      const done = ids.filter((id) => !unsettled.has(id));
      const failed = ids.filter((id) => unsettled.has(id));
      try {
        const history = await dataOf(env, plan.organizationId);
        const statements = [
          ...markEventsFannedOut(history, plan.organizationId, done),
          // One statement per distinct error (usually one) and week.
          ...[...Map.groupBy(failed, (id) => unsettled.get(id) as string)].flatMap(([error, eventIds]) =>
            noteFanOutError(history, plan.organizationId, eventIds, error, due),
          ),
        ];
        if (statements.length > 0) await history.db.batch(statements);
      } catch (error) {
        const organizationId = plan.organizationId;
        console.error(
          JSON.stringify({ message: "fan-out state not recorded", organizationId, error: String(error) }),
        );
      }
    }),
  );
}

/**
 * The group's events. One that came in its message is stored here if the publish request could not
 * store it; one that is not stored after that lost an Idempotency-Key race to another event and is
 * dropped. One that did not fit in its message is read (gone: removed by retention meanwhile).
 */
async function eventsOf(
  history: History,
  organizationId: OrganizationId,
  group: EventMessage[],
): Promise<EventRecord[]> {
  const carried = group.flatMap((m) => (m.event ? [m.event] : []));
  const isStored = async () =>
    storedIds(
      history,
      "events",
      organizationId,
      carried.map((e) => e.id),
    );
  let stored = await isStored();
  const missing = carried.filter((e) => !stored.has(e.id));
  if (missing.length > 0) {
    const due = sweepAfter(Date.now());
    for (const { idempotency, ...event } of missing) {
      await insertEvent(history, event, { idempotency, sweepAfter: due });
    }
    stored = await isStored();
  }
  // Read back, an event has no trace but the one its message names (EventContent).
  const read = await Promise.all(
    group
      .filter((m) => !m.event)
      .map(async (m) => {
        const event = await getEvent(history, organizationId, m.eventId);
        return event && { ...event, traceId: m.traceId };
      }),
  );
  return [
    ...carried.filter((e) => stored.has(e.id)).map(({ idempotency: _, ...event }) => event),
    ...read.filter((e) => e !== null),
  ];
}
