import { endpointReceives } from "../catalog/filters";
import { getConfig } from "../config";
import { storedDeliveryIds } from "../db/deliveries";
import { type Endpoint, listActiveEndpoints } from "../db/endpoints";
import { type EventRecord, getEvent, insertEvent, storedEventIds } from "../db/events";
import { fanOutDeliveryId } from "../lib/ids";
import { firstAttemptJob, type Job, messageFor, runDeliveries } from "./deliver";
import { type DeliveryMessage, type EventMessage, sendAll } from "./messages";

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
 */
export async function fanOutBatch(batch: MessageBatch<EventMessage>, env: Env): Promise<void> {
  try {
    await fanOut(
      env,
      batch.messages.map((m) => m.body),
    );
    batch.ackAll();
  } catch (error) {
    console.error(JSON.stringify({ message: "fan-out failed", error: String(error) }));
    batch.retryAll();
  }
}

export async function fanOut(
  env: Env,
  messages: readonly EventMessage[],
  inlineLimit = INLINE_FIRST_ATTEMPTS,
): Promise<void> {
  const jobs: Job[] = [];
  const handedOn: { body: DeliveryMessage }[] = [];
  const endpoints = new Map<string, Endpoint>();
  for (const [organizationId, group] of Map.groupBy(messages, (m) => m.organizationId)) {
    const events = await eventsOf(env, organizationId, group);
    const receivers = await listActiveEndpoints(env.DB, organizationId);
    for (const endpoint of receivers) endpoints.set(endpoint.id, endpoint);
    const pairs = await Promise.all(
      events.flatMap((event) =>
        receivers
          .filter((endpoint) => endpointReceives(endpoint, event))
          .map(async (endpoint) => ({ event, endpoint, id: await fanOutDeliveryId(event.id, endpoint.id) })),
      ),
    );
    const done = await storedDeliveryIds(
      env.DB,
      organizationId,
      pairs.map((p) => p.id),
    );
    for (const { event, endpoint, id } of pairs) {
      if (done.has(id)) continue;
      done.add(id); // the same event twice in this batch: once is enough
      const job = firstAttemptJob(
        { organizationId: event.organizationId, deliveryId: id, endpointId: endpoint.id, eventId: event.id },
        event.type,
        { data: event.data, resources: event.resources, occurredAt: event.occurredAt },
      );
      if (jobs.length < inlineLimit) jobs.push({ job });
      else handedOn.push({ body: messageFor(job) });
    }
  }
  await sendAll(env.DELIVERIES_QUEUE, handedOn);
  await runDeliveries(env, getConfig(env), jobs, endpoints);
}

/**
 * The group's events. One that came in its message is stored here if the publish request could not
 * store it; one that is not stored after that lost an Idempotency-Key race to another event and is
 * dropped. One that did not fit in its message is read (gone: removed by retention meanwhile).
 */
async function eventsOf(env: Env, organizationId: string, group: EventMessage[]): Promise<EventRecord[]> {
  const carried = group.flatMap((m) => (m.event ? [m.event] : []));
  const isStored = async () =>
    storedEventIds(
      env.DB,
      organizationId,
      carried.map((e) => e.id),
    );
  let stored = await isStored();
  const missing = carried.filter((e) => !stored.has(e.id));
  if (missing.length > 0) {
    for (const { idempotency, ...event } of missing) await insertEvent(env.DB, event, { idempotency });
    stored = await isStored();
  }
  const read = await Promise.all(
    group.filter((m) => !m.event).map((m) => getEvent(env.DB, organizationId, m.eventId)),
  );
  return [
    ...carried.filter((e) => stored.has(e.id)).map(({ idempotency: _, ...event }) => event),
    ...read.filter((e) => e !== null),
  ];
}
