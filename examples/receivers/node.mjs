// Verifying deliveries in Node (or any runtime with fetch-style handlers: Hono, Next.js, Bun, Deno,
// Workers). `npm install standardwebhooks`; the secret is the endpoint's `whsec_…` signing secret.
import { Webhook } from "standardwebhooks";

export function createWebhookHandler(secret) {
  const webhook = new Webhook(secret);
  return async function handleWebhook(request) {
    const body = await request.text(); // verify the raw body, before any JSON parsing
    let event;
    try {
      event = webhook.verify(body, Object.fromEntries(request.headers));
    } catch {
      return new Response("invalid signature", { status: 400 });
    }
    // `webhook-id` (= event.id) is stable across retries and replays: use it to ignore duplicates.
    console.log(`received ${event.type} ${event.id}`, event.data);
    return new Response(null, { status: 204 });
  };
}
