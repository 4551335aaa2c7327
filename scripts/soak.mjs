#!/usr/bin/env node
// `npm run soak [-- --events 5000 --endpoints 3 --minutes 30]`: at-least-once under faults, measured.
// Runs the service with `wrangler dev` (own state directory) and a receiver on 127.0.0.1 that answers
// 30% of requests with 500 and hangs on 5% past the delivery timeout; publishes the events, waits until
// nothing is pending (or the time limit), and prints what the receiver saw against what was expected.
// Exits 0 only when every delivery was delivered. Loopback only; stops by itself.
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { api, freePort, listAll, organizationWithKey, pool, startLocalService } from "./local-stack.mjs";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "5000" },
    endpoints: { type: "string", default: "3" },
    minutes: { type: "string", default: "30" },
  },
});
const EVENTS = Number(values.events);
const ENDPOINTS = Number(values.endpoints);
const DEADLINE = Date.now() + Number(values.minutes) * 60_000;
const TIMEOUT_MS = 1000;

// The receiver: 30% 500, 5% hang past the timeout, else 200. Counts 2xx answers per (endpoint, event).
const acknowledged = new Map();
let requests = 0;
const receiverPort = await freePort();
const receiver = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    requests++;
    const roll = Math.random();
    if (roll < 0.05) {
      setTimeout(() => res.destroy(), TIMEOUT_MS * 2);
      return;
    }
    if (roll < 0.35) {
      res.writeHead(500).end();
      return;
    }
    const key = `${req.url} ${req.headers["webhook-id"]}`;
    acknowledged.set(key, (acknowledged.get(key) ?? 0) + 1);
    res.writeHead(200).end();
  });
});
await new Promise((resolve) => receiver.listen(receiverPort, "127.0.0.1", resolve));

const service = await startLocalService({
  // Long enough that 35% failing attempts practically never exhaust it (0.35^18 per delivery).
  RETRY_SCHEDULE_SECONDS: "1,1,2,2,3,3,5,5,5,5,10,10,10,10,10,10",
  INLINE_RETRY_DELAYS_MS: "100",
  DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
});
const started = Date.now();
let exitCode = 1;
try {
  const { base, adminToken } = service;
  const { organization, token } = await organizationWithKey(service, "soak");
  for (let i = 0; i < ENDPOINTS; i++) {
    await api(base, token, "POST", "/webhooks/v1/endpoints", {
      url: `http://127.0.0.1:${receiverPort}/endpoint-${i}`,
      eventTypeFilters: ["matter.*"],
    });
  }

  await pool(EVENTS, 16, (i) =>
    api(base, adminToken, "POST", "/webhooks/v1/events", {
      organizationId: organization.id,
      type: "matter.created",
      data: { matterId: `matter_${i}`, name: `Soak ${i}` },
    }),
  );
  const published = Date.now();
  console.log(
    `published ${EVENTS} events in ${((published - started) / 1000).toFixed(1)} s; waiting for delivery…`,
  );

  const expected = EVENTS * ENDPOINTS;
  // Poll cheaply (is anything still pending?), then read every delivery once at the end. Done when
  // the receiver has everything and nothing is pending, or when nothing has moved for three polls
  // (a delivery appears in the history only after its first attempt, so "nothing pending" alone is
  // not enough while fan-out is still busy).
  let stalledPolls = 0;
  let lastAcknowledged = -1;
  for (;;) {
    const pending = await api(base, token, "GET", "/webhooks/v1/deliveries?status=pending&limit=1");
    const quiet = pending.data.length === 0;
    stalledPolls = quiet && acknowledged.size === lastAcknowledged ? stalledPolls + 1 : 0;
    lastAcknowledged = acknowledged.size;
    if ((acknowledged.size === expected && quiet) || stalledPolls >= 3 || Date.now() > DEADLINE) break;
    console.log(`  ${acknowledged.size}/${expected} deliveries acknowledged by the receiver`);
    // The cron trigger, as in production every 5 minutes: re-enqueues anything whose message was lost.
    await service.triggerCron();
    await new Promise((r) => setTimeout(r, 10_000));
  }
  const deliveries = await listAll(base, token, "/webhooks/v1/deliveries");

  const count = (status) => deliveries.filter((d) => d.status === status).length;
  const seen = new Set([...acknowledged.keys()].map((k) => k.split(" ")[1]));
  const duplicates = [...acknowledged.values()].reduce((n, times) => n + times - 1, 0);
  const rows = [
    ["events published", EVENTS],
    ["deliveries expected", expected],
    ["deliveries recorded", deliveries.length],
    ["delivered", count("delivered")],
    ["failed", count("failed")],
    ["still pending", count("pending")],
    ["events the receiver acknowledged", seen.size],
    ["requests the receiver got", requests],
    ["duplicates seen by the receiver", duplicates],
    ["elapsed", `${((Date.now() - started) / 1000).toFixed(1)} s`],
  ];
  console.log("");
  for (const [label, value] of rows) console.log(`${label.padEnd(34)} ${value}`);
  const allDelivered = count("delivered") === expected && acknowledged.size === expected;
  console.log(`\n${allDelivered ? "PASS: every delivery delivered, none lost" : "FAIL: deliveries missing"}`);
  exitCode = allDelivered ? 0 : 1;
} finally {
  await service.stop();
  receiver.close();
  receiver.closeAllConnections();
}
process.exit(exitCode);
