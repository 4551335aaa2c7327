import { createExecutionContext, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { EventMessage } from "../../src/events/message";
import { publishEvent } from "../../src/events/publish";
import worker from "../../src/index";
import type { OrganizationId } from "../../src/lib/ids";
import { capturingQueue } from "./faults";

/**
 * Driving the queue consumers by hand: a test keeps a publish's queue message instead of letting the
 * queue deliver it, then hands it (or loses it) as a fault would have it.
 */

/** Publishes through publishEvent, keeping the event's queue message. */
export async function publishCaptured(
  organizationId: string,
  type = "matter.created",
  data: unknown = { matterId: "m", name: "n" },
) {
  const events = capturingQueue<EventMessage>();
  const { event } = await publishEvent(
    { ...env, EVENTS_QUEUE: events.queue },
    { organizationId: organizationId as OrganizationId, type, data },
  );
  return { event, message: events.sent[0] as EventMessage };
}

/**
 * Runs a consumer on `batch` as the platform would, and returns how many messages it acknowledged and
 * retried. The consumers answer each message on its own, never the batch as a whole.
 */
export async function consume(batch: MessageBatch, workerEnv: Env = env) {
  const ctx = createExecutionContext();
  const handler: ExportedHandler<Env> = worker;
  await handler.queue?.(batch, workerEnv, ctx);
  // Waits for what the consumer left to ctx.waitUntil, then reads how it answered each message.
  const result = await getQueueResult(batch, ctx);
  expect(result.ackAll || result.retryBatch.retry, "messages are answered one by one").toBe(false);
  return { acked: result.explicitAcks.length, retried: result.retryMessages.length };
}
