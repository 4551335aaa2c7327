#!/usr/bin/env node
// `npm run soak [-- --scenario faults|hostile --events N --endpoints N --minutes N]`: at-least-once,
// measured end to end on `wrangler dev` (own state directory) with a receiver on 127.0.0.1.
//
// - `faults` (default): the receiver answers 30% of requests with 500 and hangs on 5% past the
//   delivery timeout; one organization publishes `--events` events to `--endpoints` endpoints.
// - `hostile`: organization A publishes poison bodies (deep nesting, huge strings, lone surrogates,
//   `__proto__` keys, numbers out of range, or ordinary ones) while organizations B and C each publish
//   `--events` ordinary events; the receiver answers every request at once. B's and C's events must
//   all arrive; each of A's publishes must be refused with a 4xx or end delivered or visibly failed.
//
// Waits until nothing is pending (or the time limit), prints what the receiver saw against what was
// expected, then the shard each organization is on and each shard's events and deliveries rows and
// bytes, and exits 0 only when nothing was lost. Loopback only; stops by itself.
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import {
  api,
  freePort,
  listAll,
  organizationWithKey,
  pool,
  shardTable,
  startLocalService,
} from "./local-stack.mjs";

const { values } = parseArgs({
  options: {
    scenario: { type: "string", default: "faults" },
    events: { type: "string" },
    endpoints: { type: "string", default: "3" },
    minutes: { type: "string", default: "30" },
  },
});
const HOSTILE = values.scenario === "hostile";
if (!HOSTILE && values.scenario !== "faults") throw new Error(`unknown scenario ${values.scenario}`);
const EVENTS = Number(values.events ?? (HOSTILE ? 1000 : 5000));
const DEADLINE = Date.now() + Number(values.minutes) * 60_000;
const TIMEOUT_MS = 1000;

/** The kinds of body A publishes, one in seven ordinary; each as the JSON text of `data.v`. */
const POISONS = [
  ["nested 4,500 deep", () => "[".repeat(4500) + "]".repeat(4500)],
  ["nested 100,000 deep", () => "[".repeat(100_000) + "]".repeat(100_000)],
  ["a 300 KB string", () => JSON.stringify("x".repeat(300_000))],
  ["a lone surrogate", () => '"\\ud800"'],
  ["a __proto__ key", () => '{"__proto__":{"polluted":true}}'],
  ["a number out of range", () => "1e400"],
  ["ordinary", () => '{"ok":true}'],
];

// The receiver: counts 2xx answers per (endpoint path, event id). With faults: 30% 500, 5% hang
// past the timeout.
const acknowledged = new Map();
let requests = 0;
const receiverPort = await freePort();
const receiver = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    requests++;
    const roll = HOSTILE ? 1 : Math.random();
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
const duplicates = () => [...acknowledged.values()].reduce((n, times) => n + times - 1, 0);
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const endpointUrl = (name) => `http://127.0.0.1:${receiverPort}/${name}`;

const service = await startLocalService({
  // Long enough that 35% failing attempts practically never exhaust it (0.35^18 per delivery).
  RETRY_SCHEDULE_SECONDS: "1,1,2,2,3,3,5,5,5,5,10,10,10,10,10,10",
  INLINE_RETRY_DELAYS_MS: "100",
  DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
});
const started = Date.now();
let exitCode = 1;
try {
  const passed = HOSTILE ? await hostileScenario() : await faultsScenario();
  exitCode = passed ? 0 : 1;
} finally {
  await service.stop();
  receiver.close();
  receiver.closeAllConnections();
}
process.exit(exitCode);

async function faultsScenario() {
  const { base, adminToken } = service;
  const { organization, token } = await organizationWithKey(service, "soak");
  const endpoints = Number(values.endpoints);
  for (let i = 0; i < endpoints; i++) {
    await api(base, token, "POST", "/webhooks/v1/endpoints", {
      url: endpointUrl(`endpoint-${i}`),
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
  console.log(`published ${EVENTS} events in ${seconds(started)}; waiting for delivery…`);

  const expected = EVENTS * endpoints;
  await waitForDeliveries([token], expected);
  const deliveries = await listAll(base, token, "/webhooks/v1/deliveries");
  const count = (status) => deliveries.filter((d) => d.status === status).length;
  const seen = new Set([...acknowledged.keys()].map((k) => k.split(" ")[1]));
  report([
    ["events published", EVENTS],
    ["deliveries expected", expected],
    ["deliveries recorded", deliveries.length],
    ["delivered", count("delivered")],
    ["failed", count("failed")],
    ["still pending", count("pending")],
    ["events the receiver acknowledged", seen.size],
    ["requests the receiver got", requests],
    ["duplicates seen by the receiver", duplicates()],
    ["elapsed", seconds(started)],
  ]);
  await reportShards([["soak", organization]]);
  const allDelivered = count("delivered") === expected && acknowledged.size === expected;
  console.log(`\n${allDelivered ? "PASS: every delivery delivered, none lost" : "FAIL: deliveries missing"}`);
  return allDelivered;
}

async function hostileScenario() {
  const { base, adminToken } = service;
  const hostile = await organizationWithKey(service, "A (hostile)");
  const others = [];
  for (const name of ["B", "C"]) {
    const { organization, token } = await organizationWithKey(service, name);
    await api(base, token, "POST", "/webhooks/v1/endpoints", {
      url: endpointUrl(name),
      eventTypeFilters: ["matter.*"],
    });
    others.push({ name, organization, token });
  }
  await api(base, hostile.token, "POST", "/webhooks/v1/endpoints", {
    url: endpointUrl("A"),
    eventTypeFilters: ["*"],
  });

  // Every fifth publish is A's, the others alternate between B and C, 16 at a time.
  const outcomes = new Map(POISONS.map(([name]) => [name, { refused: 0, accepted: [] }]));
  const hostilePublishes = Math.ceil((EVENTS * 2) / 4);
  await pool(EVENTS * 2 + hostilePublishes, 16, async (i) => {
    if (i % 5 === 4) {
      const [name, body] = POISONS[Math.floor(i / 5) % POISONS.length];
      const response = await fetch(`${base}/webhooks/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
        body: `{"organizationId":"${hostile.organization.id}","type":"webhook.test","data":{"v":${body()}}}`,
      });
      const outcome = outcomes.get(name);
      if (response.status >= 400 && response.status < 500) outcome.refused++;
      else if (response.status === 202) outcome.accepted.push((await response.json()).event.id);
      else throw new Error(`A's publish of ${name} answered ${response.status}`);
      return;
    }
    const other = others[i % 2];
    await api(base, adminToken, "POST", "/webhooks/v1/events", {
      organizationId: other.organization.id,
      type: "matter.created",
      data: { matterId: `matter_${i}`, name: `Soak ${i}` },
    });
  });
  console.log(`published in ${seconds(started)}; waiting for delivery…`);

  const accepted = [...outcomes.values()].flatMap((o) => o.accepted);
  await waitForDeliveries(
    others.map((o) => o.token),
    EVENTS * 2 + accepted.length,
  );
  const rows = [];
  let allArrived = true;
  for (const { name, token } of others) {
    const deliveries = await listAll(base, token, "/webhooks/v1/deliveries");
    const arrived = new Set([...acknowledged.keys()].filter((k) => k.startsWith(`/${name} `)));
    const lost = EVENTS - arrived.size;
    allArrived &&= lost === 0;
    rows.push(
      [`${name}: events published`, EVENTS],
      [`${name}: deliveries delivered`, deliveries.filter((d) => d.status === "delivered").length],
      [`${name}: events the receiver got`, arrived.size],
      [`${name}: lost`, lost],
    );
  }
  // Each of A's accepted events is delivered, or its fan-out says why not.
  let hostileUnaccounted = 0;
  for (const [name, { refused, accepted: ids }] of outcomes) {
    const states = await Promise.all(
      ids.map((id) => api(base, hostile.token, "GET", `/webhooks/v1/events/${id}`)),
    );
    const delivered = states.filter((s) => s.deliveries.some((d) => d.status === "delivered")).length;
    const failed = states.filter((s) => s.event.fanOut.status === "failed").length;
    hostileUnaccounted += ids.length - delivered - failed;
    rows.push([
      `A: ${name}`,
      `${refused} refused, ${delivered} delivered, ${failed} failed of ${ids.length} accepted`,
    ]);
  }
  rows.push(
    ["duplicates seen by the receiver", duplicates()],
    ["requests the receiver got", requests],
    ["elapsed", seconds(started)],
  );
  report(rows);
  await reportShards([["A", hostile.organization], ...others.map((o) => [o.name, o.organization])]);
  const passed = allArrived && hostileUnaccounted === 0;
  console.log(
    `\n${passed ? "PASS: every event of B and C arrived; A's were refused or delivered" : "FAIL: events missing"}`,
  );
  return passed;
}

/**
 * Polls cheaply (is anything still pending?) until the receiver has `expected` acknowledgements and
 * nothing is pending, or nothing has moved for three polls (a delivery appears in the history only
 * after its first attempt, so "nothing pending" alone is not enough while fan-out is still busy), or
 * the time limit. Runs the cron trigger each time, as production does every 5 minutes.
 */
async function waitForDeliveries(tokens, expected) {
  let stalledPolls = 0;
  let lastAcknowledged = -1;
  for (;;) {
    const pending = await Promise.all(
      tokens.map((token) =>
        api(service.base, token, "GET", "/webhooks/v1/deliveries?status=pending&limit=1"),
      ),
    );
    const quiet = pending.every((page) => page.data.length === 0);
    stalledPolls = quiet && acknowledged.size === lastAcknowledged ? stalledPolls + 1 : 0;
    lastAcknowledged = acknowledged.size;
    if ((acknowledged.size >= expected && quiet) || stalledPolls >= 3 || Date.now() > DEADLINE) return;
    console.log(`  ${acknowledged.size}/${expected} deliveries acknowledged by the receiver`);
    await service.triggerCron();
    await new Promise((r) => setTimeout(r, 10_000));
  }
}

/** The shard of each `[name, organization]`, then each shard's rows and bytes now. */
async function reportShards(organizations) {
  const placed = organizations.map(([name, { shard }]) => `${name} on DB_SHARD_${shard}`).join(", ");
  console.log(`\nRows and bytes per shard (organizations: ${placed})`);
  for (const line of shardTable(await service.shardUsage())) console.log(line);
  console.log("(DB_SHARD_0 is the primary database: its bytes include the control plane)");
}

function report(rows) {
  console.log("");
  for (const [label, value] of rows) console.log(`${label.padEnd(34)} ${value}`);
}
