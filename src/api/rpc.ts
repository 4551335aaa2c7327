import { WorkerEntrypoint } from "cloudflare:workers";
import { z } from "zod";
import { getConfig } from "../config";
import { directDelivery } from "../delivery/direct";
import { publishEvent } from "../events/publish";
import { type FieldError, ServiceError } from "../lib/errors";
import { checkJsonLimits } from "./app";
import { EventIn, type EventOut, toEventOut } from "./events";
import { fieldErrors } from "./problem";

/** The HTTP route's body, with its `Idempotency-Key` header as a field. */
const RpcPublishIn = EventIn.extend({
  idempotencyKey: z.string().min(1).max(255).optional(),
  /** The caller's W3C `traceparent`, as the HTTP route's header. */
  traceparent: z.string().max(256).optional(),
});

export type PublishRequest = z.input<typeof RpcPublishIn>;

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
    try {
      // What the HTTP route's middleware checks of a body (api/app.ts), checked here for the same request.
      const config = getConfig(this.env);
      checkJsonLimits(request, config.maxJsonDepth);
      if (new TextEncoder().encode(JSON.stringify(request)).length > config.maxPayloadBytes) {
        return {
          ok: false,
          status: 413,
          detail: `The request is larger than ${config.maxPayloadBytes} bytes`,
          errors: [],
        };
      }
      const parsed = RpcPublishIn.safeParse(request);
      if (!parsed.success) {
        return {
          ok: false,
          status: 422,
          detail: "The request is not valid",
          errors: fieldErrors(parsed.error),
        };
      }
      const { event, replayed } = await publishEvent(this.env, parsed.data, {
        direct: directDelivery(this.env, this.ctx),
      });
      return { ok: true, event: toEventOut(event), replayed };
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      return { ok: false, status: error.status, detail: error.message, errors: error.errors ?? [] };
    }
  }
}
