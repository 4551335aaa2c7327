/**
 * The runtime's own limit for queue → HTTP on a machine, measured with the same receiver and queue
 * settings as the real service. `POST /publish {id, urls, body, signature, timeoutMs?}` enqueues one
 * message per event, whatever the number of URLs, as the service's publish does (its fan-out consumer
 * makes the first attempts itself); the consumer POSTs the precomputed body and signature to each URL
 * of each message, all at once, each attempt cut off after `timeoutMs` (the service's
 * DELIVERY_TIMEOUT_MS, 15 s, by default). The URLs an attempt failed for go round again as one
 * message, 5 s later (the service's first retry step), up to the queue's max_retries attempts. No D1,
 * no Durable Object, no connection gate: locally the runtime does not cap an invocation's open
 * connections (deployed, it keeps six waiting for headers), so nothing holds one URL behind another.
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

export default {
  async fetch(request, env) {
    if (request.method !== "POST") return new Response("POST /publish", { status: 404 });
    const { id, urls, body, signature, timeoutMs } = await request.json<{
      id: string;
      urls: string[];
      body: string;
      signature: string;
      timeoutMs?: number;
    }>();
    await env.BASELINE_QUEUE.send({
      id,
      urls,
      body,
      signature,
      publishedAt: Date.now(),
      timeoutMs: timeoutMs ?? DEFAULT_TIMEOUT_MS,
      attempt: 1,
    });
    return new Response(null, { status: 202 });
  },

  async queue(batch, env) {
    const again: MessageSendRequest<BaselineMessage>[] = [];
    await Promise.all(
      batch.messages.map(async (message) => {
        const event = message.body;
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
        if (failed.length > 0 && event.attempt < MAX_ATTEMPTS) {
          again.push({
            body: { ...event, urls: failed, attempt: event.attempt + 1 },
            delaySeconds: RETRY_DELAY_SECONDS,
          });
        }
      }),
    );
    if (again.length > 0) await env.BASELINE_QUEUE.sendBatch(again);
  },
} satisfies ExportedHandler<BaselineEnv, BaselineMessage>;
