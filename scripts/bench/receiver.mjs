// The bench's receiver, on 127.0.0.1 only. What it answers depends on the first segment of the path:
//   /fast/…  200 at once;
//   /slow/…  200 after SLOW_MS (a slow customer);
//   /hang/…  never (a customer whose server accepts the connection and then says nothing: the
//            sender's attempt times out).
// It keeps, per delivery — a path and the event's id (the `webhook-id` header, which both the service
// and the baseline send) — when it first arrived and when its event was published (the baseline's
// x-published-at header, or our envelope's occurred_at, set at publish time), and how many requests
// brought it again (duplicates and retries, which are not deliveries). Of our envelope it also keeps the
// event's `data`, and each first arrival's rank among them all (`arrival`), so that the order in which an
// ordered lane's events arrived can be checked against the order they were published in (measure.mjs
// orderKept): milliseconds alone would tie.
import { createServer } from "node:http";
import { freePort } from "../local-stack.mjs";

export const SLOW_MS = 8_000;

export async function startReceiver() {
  /** `${path} ${eventId}` → { path, arrivedAt, arrival, publishedAt, data, requests } */
  let deliveries = new Map();
  let arrivals = 0;
  const pending = new Set(); // responses not yet given: the slow and the hanging
  const timers = new Set();
  const port = await freePort();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const arrivedAt = Date.now();
      const path = req.url ?? "/";
      const header = req.headers["x-published-at"];
      let publishedAt = header ? Number(header) : Number.NaN;
      let eventId = req.headers["webhook-id"];
      let data;
      if (!header || !eventId) {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          publishedAt = header ? publishedAt : Date.parse(body.occurred_at);
          eventId ??= body.id;
          data = body.data;
        } catch {} // not JSON: counted under its path alone
      }
      const key = `${path} ${eventId ?? ""}`;
      const seen = deliveries.get(key);
      if (seen) seen.requests++;
      else deliveries.set(key, { path, arrivedAt, arrival: arrivals++, publishedAt, data, requests: 1 });

      if (path.startsWith("/hang/")) {
        pending.add(res);
        res.on("close", () => pending.delete(res));
        return;
      }
      if (path.startsWith("/slow/")) {
        pending.add(res);
        const timer = setTimeout(() => {
          timers.delete(timer);
          pending.delete(res);
          if (!res.destroyed) res.writeHead(200).end();
        }, SLOW_MS);
        timers.add(timer);
        res.on("close", () => pending.delete(res));
        return;
      }
      res.writeHead(200).end();
    });
  });
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));

  const matching = (prefix) => [...deliveries.values()].filter((d) => d.path.startsWith(prefix));
  return {
    /** An endpoint URL: `kind` is "fast", "slow" or "hang"; `name` tells endpoints apart. */
    url: (kind, name) => `http://127.0.0.1:${port}/${kind}/${name}`,
    /** Forgets every delivery seen so far. */
    reset() {
      deliveries = new Map();
    },
    /** The distinct deliveries to paths starting with `prefix`, first arrival each. */
    deliveries: (prefix = "/") => matching(prefix),
    /** The delivery of one event to one URL's path, if it came. */
    delivery: (url, eventId) => deliveries.get(`${new URL(url).pathname} ${eventId}`),
    /** Requests beyond the first for each delivery (to paths starting with `prefix`). */
    duplicates: (prefix = "/") => matching(prefix).reduce((sum, d) => sum + d.requests - 1, 0),
    /** Waits until `count` deliveries to `prefix` have arrived, or `deadline` (ms since the epoch). */
    async waitFor(count, deadline, prefix = "/") {
      while (matching(prefix).length < count && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      return matching(prefix).length >= count;
    },
    /** Ends every response still held (slow or hanging): their senders see the connection close. */
    dropPending() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const res of pending) res.destroy();
      pending.clear();
    },
    close() {
      this.dropPending();
      server.close();
      server.closeAllConnections();
    },
  };
}
