/**
 * The runtime's own limit for queue → HTTP on a machine, measured with the same receiver and queue
 * settings as the real service. `POST /publish {urls, body, signature}` enqueues one message per URL
 * (what fan-out produces); the consumer POSTs the precomputed body and signature for each.
 */
type BaselineMessage = { url: string; body: string; signature: string; publishedAt: number };
type BaselineEnv = { BASELINE_QUEUE: Queue<BaselineMessage> };

export default {
  async fetch(request, env) {
    if (request.method !== "POST") return new Response("POST /publish", { status: 404 });
    const { urls, body, signature } = await request.json<{
      urls: string[];
      body: string;
      signature: string;
    }>();
    const publishedAt = Date.now();
    for (let i = 0; i < urls.length; i += 100) {
      await env.BASELINE_QUEUE.sendBatch(
        urls.slice(i, i + 100).map((url) => ({ body: { url, body, signature, publishedAt } })),
      );
    }
    return new Response(null, { status: 202 });
  },

  async queue(batch) {
    await Promise.all(
      batch.messages.map(async (message) => {
        const { url, body, signature, publishedAt } = message.body;
        const response = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "webhook-signature": signature,
            "x-published-at": String(publishedAt),
          },
          body,
        });
        await response.body?.cancel();
        if (response.ok) message.ack();
        else message.retry();
      }),
    );
  },
} satisfies ExportedHandler<BaselineEnv, BaselineMessage>;
