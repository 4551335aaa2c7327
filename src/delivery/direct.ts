import { getConfig } from "../config";
import type { EventRecord } from "../domain/event";
import type { EventMessage } from "../events/message";
import { type DirectDelivery, trySend } from "../events/publish";
import { withIfFits } from "../lib/queue";
import { directPace } from "./direct-pace";
import { deliverPlans, planOrganization } from "./fan-out";

/**
 * First attempts from the publish's own invocation (docs/architecture.md#direct-first-attempts). A
 * published event that matches few endpoints is fanned out right after the publish is answered,
 * through `ctx.waitUntil`, by the same code as the `webhook-events` consumer: no queue hop, no batch
 * wait, and no run shared with other tenants, since each publish has its own invocation and its own
 * six connections. What the invocation does not finish goes through the queue as before: retries,
 * rate-limit deferrals and the slow lane are delivery messages; an event matching more than
 * DIRECT_FAN_OUT_MAX endpoints, or whose fan-out fails, is sent to `webhook-events`, where batches
 * share Durable Object calls and D1 reads among many events. The event was stored due for the sweeper
 * before the answer, so an invocation that ends early delays it and loses nothing.
 *
 * A direct fan-out costs more per event than its share of a batch, which pays while an organization
 * publishes sparsely; beyond that its events are batched through the queue (direct-pace.ts).
 *
 * Returns how `publishEvent` hands an organization's event here (undefined: through the queue now),
 * or undefined when DIRECT_FAN_OUT_MAX is 0.
 */
export function directDelivery(
  env: Env,
  ctx: Pick<ExecutionContext, "waitUntil">,
): DirectDelivery | undefined {
  if (getConfig(env).directFanOutMax === 0) return undefined;
  return (organizationId) => {
    if (!pace.offer(organizationId, Date.now())) return undefined;
    return (event) => {
      const ended = pace.start(organizationId, Date.now());
      ctx.waitUntil(deliverDirectly(env, event).finally(ended));
    };
  };
}

/** This isolate's direct fan-outs, by organization. */
const pace = directPace();

/** Fans out one stored event here, or, if its fan-out is large or fails, through the queue. */
export async function deliverDirectly(env: Env, event: EventRecord): Promise<void> {
  const message: EventMessage = { organizationId: event.organizationId, eventId: event.id };
  try {
    const plan = await planOrganization(env, event.organizationId, [message], async () => [event]);
    const small = !("failed" in plan) && plan.pairs.length <= getConfig(env).directFanOutMax;
    if (small && (await deliverPlans(env, [plan], plan.pairs.length)).size === 0) return;
  } catch (error) {
    console.error(
      JSON.stringify({ message: "direct delivery failed", eventId: event.id, error: String(error) }),
    );
  }
  await trySend(env, withIfFits<EventMessage>(message, { event }));
}
