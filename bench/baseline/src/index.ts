/**
 * The runtime's own limit for queue → HTTP on a machine, measured with the same receiver and queue
 * settings as the real service, and the same two paths as its publish. `POST /publish {id, tenant?,
 * urls, body, signature, timeoutMs?}` POSTs an event to few URLs from its own invocation after
 * answering (a few of a tenant's at once, as the service does), and otherwise enqueues one message
 * per event, whatever the number of URLs (the service's fan-out consumer makes the first attempts
 * itself). The consumer POSTs the precomputed body and signature to each URL of each message, all at
 * once, each attempt cut off after `timeoutMs` (the service's DELIVERY_TIMEOUT_MS, 15 s, by default).
 * The URLs an attempt failed for go round again as one message, 5 s later (the service's first retry
 * step), up to the queue's max_retries attempts. No D1, no Durable Object, no connection gate: locally
 * the runtime does not cap an invocation's open connections (deployed, it keeps six waiting for
 * headers), so nothing holds one URL behind another.
 */
type BaselineMessage = {
  id: string;
  urls: string[];
  body: string;
  signature: string;
  publishedAt: number;
  timeoutMs: number;
  attempt: number;
};
type BaselineEnv = { BASELINE_QUEUE: Queue<BaselineMessage> };

const DEFAULT_TIMEOUT_MS = 15_000;
const RETRY_DELAY_SECONDS = 5;
/** The consumer's max_retries in wrangler.toml. */
const MAX_ATTEMPTS = 10;
/**
 * The service's rule for its direct path (src/delivery/direct.ts, direct-pace.ts): an event to at
 * most DIRECT_FAN_OUT_MAX URLs is POSTed from the publish's own invocation after the answer
 * (`ctx.waitUntil`) while its tenant publishes sparsely: fewer than 10 of its events published in the
 * last second and fewer than 2 direct deliveries still running, in this isolate. Any other event is
 * enqueued.
 */
const DIRECT_FAN_OUT_MAX = 5;
const SPARSE_PER_SECOND = 10;
const DIRECT_RUNNING = 2;
const byTenant = new Map<string, { publishedAt: number[]; running: number }>();

/** Counts one publish of the tenant; says whether its event may go direct. */
function offer(tenant: string, now: number) {
  const counts = byTenant.get(tenant) ?? { publishedAt: [], running: 0 };
  byTenant.set(tenant, counts);
  counts.publishedAt = counts.publishedAt.filter((at) => now - at < 1000);
  const sparse = counts.publishedAt.length < SPARSE_PER_SECOND && counts.running < DIRECT_RUNNING;
  counts.publishedAt = [...counts.publishedAt, now].slice(-SPARSE_PER_SECOND);
  return { sparse, counts };
}

export default {
  async fetch(request, env, ctx) {
    if (request.method !== "POST") return new Response("POST /publish", { status: 404 });
    const { id, tenant, urls, body, signature, timeoutMs } = await request.json<{
      id: string;
      tenant?: string;
      urls: string[];
      body: string;
      signature: string;
      timeoutMs?: number;
    }>();
    const event: BaselineMessage = {
      id,
      urls,
      body,
      signature,
      publishedAt: Date.now(),
      timeoutMs: timeoutMs ?? DEFAULT_TIMEOUT_MS,
      attempt: 1,
    };
    const { sparse, counts } = offer(tenant ?? "", Date.now());
    if (sparse && urls.length <= DIRECT_FAN_OUT_MAX) {
      counts.running++;
      ctx.waitUntil(
        deliver(event)
          .then(async (again) => {
            if (again) await env.BASELINE_QUEUE.send(again.body, { delaySeconds: again.delaySeconds });
          })
          .finally(() => counts.running--),
      );
    } else {
      await env.BASELINE_QUEUE.send(event);
    }
    return new Response(null, { status: 202 });
  },

  async queue(batch, env) {
    const again = (await Promise.all(batch.messages.map((message) => deliver(message.body)))).flatMap(
      (retry) => (retry ? [retry] : []),
    );
    if (again.length > 0) await env.BASELINE_QUEUE.sendBatch(again);
  },
} satisfies ExportedHandler<BaselineEnv, BaselineMessage>;

/** POSTs `event` to each of its URLs at once; the message to send again for those that failed, if any. */
async function deliver(event: BaselineMessage): Promise<MessageSendRequest<BaselineMessage> | null> {
  const failed: string[] = [];
  await Promise.all(
    event.urls.map(async (url) => {
      try {
        const response = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "webhook-id": event.id,
            "webhook-signature": event.signature,
            "x-published-at": String(event.publishedAt),
          },
          body: event.body,
          signal: AbortSignal.timeout(event.timeoutMs),
        });
        await response.body?.cancel();
        if (!response.ok) failed.push(url);
      } catch {
        failed.push(url);
      }
    }),
  );
  if (failed.length === 0 || event.attempt >= MAX_ATTEMPTS) return null;
  return { body: { ...event, urls: failed, attempt: event.attempt + 1 }, delaySeconds: RETRY_DELAY_SECONDS };
}
