import { WorkerEntrypoint } from "cloudflare:workers";
import type { z } from "zod";
import { publishEvent } from "../delivery/publish";
import { ServiceError } from "../lib/errors";
import type { OrganizationId } from "../lib/ids";
import { EventIn, type EventOut, toEventOut } from "./events";
import { fieldErrors } from "./problem";

export type PublishRequest = z.input<typeof EventIn> & { idempotencyKey?: string };

/**
 * Publishing for the platform's other Workers, over a service binding instead of HTTP: no token to
 * hold, no public hop. Same validation and semantics as `POST /webhooks/v1/events`. In the caller's
 * wrangler.toml: `services = [{ binding = "WEBHOOKS", service = "edge-webhooks", entrypoint = "Publisher" }]`.
 * Errors arrive as `Error`s whose message starts with the HTTP status the API would have answered.
 */
export class Publisher extends WorkerEntrypoint<Env> {
  async publish(request: PublishRequest): Promise<z.infer<typeof EventOut>> {
    try {
      const { idempotencyKey, ...fields } = request;
      const parsed = EventIn.safeParse(fields);
      if (!parsed.success)
        throw new ServiceError("validation", "The request is not valid", fieldErrors(parsed.error));
      const { event } = await publishEvent(this.env, {
        ...parsed.data,
        organizationId: parsed.data.organizationId as OrganizationId,
        occurredAt: parsed.data.occurredAt ? new Date(parsed.data.occurredAt).toISOString() : undefined,
        idempotencyKey,
      });
      return toEventOut(event);
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      const details = error.errors?.map((e) => `${e.path}: ${e.message}`).join("; ");
      throw new Error(`${error.status} ${error.message}${details ? ` (${details})` : ""}`);
    }
  }
}
