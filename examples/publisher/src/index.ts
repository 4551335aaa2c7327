import type { Publisher, PublishResult } from "../../../src/api/rpc";

/** This Worker's bindings (its own `wrangler types` would generate the same). */
type PublisherEnv = { WEBHOOKS: Service<Publisher> };

/**
 * Example: when a document finishes ingestion, tell the organization's endpoints. The service binding
 * calls edge-webhooks' `Publisher` entrypoint directly; validation errors come back as data.
 */
export default {
  async fetch(request, env) {
    const { organizationId, vaultId, objectId, filename } = await request.json<Record<string, string>>();
    // RPC stubs add disposal to each member of the result union; the cast restores narrowing on `ok`.
    const result = (await env.WEBHOOKS.publish({
      organizationId: organizationId ?? "",
      type: "vault.ingest.completed",
      data: { vaultId, objectId, filename },
      idempotencyKey: `ingest-${objectId}`, // a retried call publishes once
    })) as PublishResult;
    if (!result.ok) return Response.json(result, { status: result.status });
    return Response.json({ eventId: result.event.id }, { status: 202 });
  },
} satisfies ExportedHandler<PublisherEnv>;
