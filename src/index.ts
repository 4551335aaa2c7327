import { OpenAPIHono } from "@hono/zod-openapi";
import { admin } from "./api/admin";
import { jsonBodyOnly } from "./api/app";
import type { AppEnv } from "./api/auth";
import { deliveries } from "./api/deliveries";
import { serveApiReference } from "./api/docs";
import { endpoints } from "./api/endpoints";
import { eventTypes } from "./api/event-types";
import { events } from "./api/events";
import { operationalEndpoints } from "./api/operational-endpoints";
import { portalSessions } from "./api/portal-sessions";
import { notFoundRoute, onError } from "./api/problem";
import { verificationKeys } from "./api/verification-keys";
import { deadLetterDeliveries } from "./delivery/dead-letter";
import { fanOutBatch } from "./delivery/fan-out";
import { deliverBatch } from "./delivery/intake";
import { deadLetterEvents } from "./events/dead-letter";
import { QUEUES } from "./lib/queue";
import { portal } from "./portal";
import { reencryptSecrets } from "./sweeper/reencrypt-secrets";
import { applyRetention } from "./sweeper/retention";
import { sweep } from "./sweeper/sweep";

export { Publisher } from "./api/rpc";
export { OrderedDelivery } from "./delivery/ordered-entrypoint";
export { EndpointHealth } from "./health/endpoint-health";

const app = new OpenAPIHono<AppEnv>();
app.use("/admin/*", jsonBodyOnly());
app.use("/webhooks/*", jsonBodyOnly());

// Before the rest of /admin/v1, whose middleware would authenticate these requests a second time.
app.route("/admin/v1/operational_endpoints", operationalEndpoints(app));
app.route("/admin/v1", admin);
app.route("/webhooks/v1/endpoints", endpoints);
app.route("/webhooks/v1/events", events);
app.route("/webhooks/v1/event_types", eventTypes);
app.route("/webhooks/v1/deliveries", deliveries);
app.route("/webhooks/v1/portal_sessions", portalSessions);
app.route("/webhooks/v1/jwks", verificationKeys);

serveApiReference(app);
app.route("/portal", portal(app));

app.onError(onError);
app.notFound(notFoundRoute);

export default {
  fetch(request, env, ctx) {
    return app.fetch(request, env, ctx);
  },

  queue(batch, env) {
    switch (batch.queue) {
      case QUEUES.events:
        return fanOutBatch(batch, env);
      case QUEUES.deliveries:
        return deliverBatch(batch, env);
      case QUEUES.slowDeliveries:
        return deliverBatch(batch, env, "slow");
      case QUEUES.eventsDeadLetter:
        return deadLetterEvents(batch, env);
      case QUEUES.deliveriesDeadLetter:
        return deadLetterDeliveries(batch, env);
      default:
        throw new Error(`No consumer for queue ${batch.queue}`);
    }
  },

  async scheduled(controller, env) {
    // Each task on its own: one that fails does not keep the others from running. A key rotation
    // finishes by itself, a batch per run; the script only hurries it (docs/security.md).
    const tasks = await Promise.allSettled([
      sweep(env, controller.scheduledTime),
      applyRetention(env, controller.scheduledTime),
      reencryptSecrets(env),
    ]);
    const failed = tasks.find((task) => task.status === "rejected");
    if (failed) throw failed.reason;
  },
} satisfies ExportedHandler<Env>;
