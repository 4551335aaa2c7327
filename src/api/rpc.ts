import { WorkerEntrypoint } from "cloudflare:workers";
import type { z } from "zod";
import { publishEvent } from "../delivery/publish";
import { type FieldError, ServiceError } from "../lib/errors";
import type { OrganizationId } from "../lib/ids";
import { EventIn, type EventOut, toEventOut } from "./events";
import { fieldErrors } from "./problem";

export type PublishRequest = z.input<typeof EventIn> & { idempotencyKey?: string };

/** Success, or the problem `POST /webhooks/v1/events` would have answered, as data the caller can inspect. */
export type PublishResult =
  | { ok: true; event: z.infer<typeof EventOut>; replayed: boolean }
  | { ok: false; status: number; detail: string; errors: FieldError[] };

/**
 * Publishing for the platform's other Workers, over a service binding instead of HTTP: no token to
 * hold, no public hop. Same validation and semantics as `POST /webhooks/v1/events`. In the caller's
 * wrangler.toml: `services = [{ binding = "WEBHOOKS", service = "edge-webhooks", entrypoint = "Publisher" }]`.
 */
export class Publisher extends WorkerEntrypoint<Env> {
  async publish(request: PublishRequest): Promise<PublishResult> {
    const { idempotencyKey, ...fields } = request;
    const parsed = EventIn.safeParse(fields);
    if (!parsed.success) {
      return {
        ok: false,
        status: 422,
        detail: "The request is not valid",
        errors: fieldErrors(parsed.error),
      };
    }
    try {
      const { event, replayed } = await publishEvent(this.env, {
        ...parsed.data,
        organizationId: parsed.data.organizationId as OrganizationId,
        occurredAt: parsed.data.occurredAt ? new Date(parsed.data.occurredAt).toISOString() : undefined,
        idempotencyKey,
      });
      return { ok: true, event: toEventOut(event), replayed };
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      return { ok: false, status: error.status, detail: error.message, errors: error.errors ?? [] };
    }
  }
}
