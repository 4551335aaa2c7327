/**
 * The service as `npm run bench` runs it to count operations: its own handlers, each invocation on
 * bindings that count D1 rows and queries, queue operations, Analytics Engine points and Durable
 * Object calls, and log them in one line (bench/metered/metering.ts); its Durable Object, subclassed
 * to count the same inside the object and the rows its storage writes, a line per call. Started with
 * `wrangler dev bench/metered/index.ts` on the service's own wrangler.toml (scripts/local-stack.mjs),
 * so the bindings are the shipped ones; everything else the service exports (its RPC entrypoint) is
 * re-exported as it is, for the bindings to resolve. Calls through the `Publisher` entrypoint are not
 * counted.
 *
 * Two routes under /__bench/ exist only here, for the bench's storage figures (bench/metered/storage.ts):
 * the size of each D1 database, and retention run as if the clock were far ahead. The shipped Worker
 * has neither.
 */
import service, { EndpointHealth as ServiceEndpointHealth } from "../../src/index";
import { meteredDurableObject, withMeteredBatch, withMetering } from "./metering";
import { BENCH_ROUTES, benchRoute } from "./storage";

export * from "../../src/index";

/** The service's Durable Object, counting what it does (a local export shadows the one of `export *`). */
export const EndpointHealth = meteredDurableObject(ServiceEndpointHealth, "EndpointHealth");

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
