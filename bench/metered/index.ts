/**
 * The service as `npm run bench` runs it to count operations: its own handlers, each invocation on
 * bindings that count D1 rows and queries, queue operations, Analytics Engine points and Durable
 * Object calls, and log them in one line (bench/metered/metering.ts); its Durable Object, subclassed
 * to count the same inside the object and the rows its storage writes, a line per call. Started with
 * `wrangler dev bench/metered/index.ts` on the service's own wrangler.toml (scripts/local-stack.mjs),
 * so the bindings are the shipped ones; its `OrderedDelivery` entrypoint, which the ordered lanes call
 * (a loopback: `exports.OrderedDelivery` is this module's export), counted as an invocation of its own,
 * `invocation: "loopback"`; everything else the service exports (its `Publisher` RPC entrypoint) is
 * re-exported as it is, for the bindings to resolve, and calls through it are not counted.
 *
 * Two routes under /__bench/ exist only here, for the bench's storage figures (bench/metered/storage.ts):
 * the size of each D1 database, and retention run as if the clock were far ahead. The shipped Worker
 * has neither.
 */
import type { DeliveryMessage } from "../../src/domain/delivery";
import service, {
  EndpointHealth as ServiceEndpointHealth,
  OrderedDelivery as ServiceOrderedDelivery,
} from "../../src/index";
import { meteredDurableObject, withMeteredBatch, withMetering } from "./metering";
import { BENCH_ROUTES, benchRoute } from "./storage";

export * from "../../src/index";

/** The service's Durable Object, counting what it does (a local export shadows the one of `export *`). */
export const EndpointHealth = meteredDurableObject(ServiceEndpointHealth, "EndpointHealth");

/**
 * The ordered lanes' loopback entrypoint, each call metered as an invocation: the service's own
 * `deliver`, run on an instance that sees the metered `env` (a copy inheriting everything else).
 */
export class OrderedDelivery extends ServiceOrderedDelivery {
  override deliver(bodies: DeliveryMessage[]): Promise<void> {
    const invocation = () => ({
      invocation: "loopback",
      entrypoint: "OrderedDelivery",
      method: "deliver",
      messages: bodies.length,
    });
    return withMetering(this.env, invocation, (metered) =>
      ServiceOrderedDelivery.prototype.deliver.call(Object.create(this, { env: { value: metered } }), bodies),
    );
  }
}

/** The service's handlers, all three present, callable with the arguments the runtime passes. */
const handlers: Required<Pick<ExportedHandler<Env>, "fetch" | "queue" | "scheduled">> = service;

export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname.startsWith(BENCH_ROUTES)) return benchRoute(request, env);
    const invocation = () => ({
      invocation: "fetch",
      method: request.method,
      path: new URL(request.url).pathname,
    });
    return withMetering(
      env,
      invocation,
      async (metered, meteredCtx) => handlers.fetch(request, metered, meteredCtx),
      ctx,
    );
  },

  queue(batch, env, ctx) {
    const invocation = () => ({ invocation: "queue", queue: batch.queue, messages: batch.messages.length });
    return withMeteredBatch(env, batch, invocation, async (metered, meteredBatch) =>
      handlers.queue(meteredBatch, metered, ctx),
    );
  },

  scheduled(controller, env, ctx) {
    const invocation = () => ({ invocation: "scheduled" });
    return withMetering(env, invocation, async (metered) => handlers.scheduled(controller, metered, ctx));
  },
} satisfies ExportedHandler<Env>;
