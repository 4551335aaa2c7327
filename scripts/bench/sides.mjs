// The two sides the bench measures, each as a fresh local deployment: our service (`wrangler dev` of
// the Worker, or of bench/metered to count operations) and the bare baseline Worker (bench/baseline).
// Each loads the same receiver, one URL path per endpoint.
import { readFileSync } from "node:fs";
import { api, organizationWithKey, pool, startBaseline, startLocalService } from "../local-stack.mjs";
import { d1Sizes, linesSince, retentionFarAhead } from "./cost.mjs";
import {
  measureBurst,
  measureNeighbour,
  measureSteady,
  orderKept,
  percentile,
  warmUp,
  warmUpCount,
} from "./measure.mjs";
import { profiled } from "./profile.mjs";

/**
 * At fan-out 10, this many of the endpoints have a `rateLimitPerSecond` (RATE_LIMIT_PER_SECOND, far
 * above what the load sends them, so nothing is deferred): their Durable Object is asked for permits
 * as well as told the outcomes, which the "Durable Object calls per endpoint per batch" target counts.
 */
const RATE_LIMITED_AT_FAN_OUT_10 = 3;
const RATE_LIMIT_PER_SECOND = 1_000;

/** The service's default attempt timeout (DELIVERY_TIMEOUT_MS), which the baseline applies too. */
const ATTEMPT_TIMEOUT_MS = 15_000;

const serviceEvent = (i) => ({
  type: "matter.created",
  data: { matterId: `matter_${i}`, name: `Bench ${i}` },
});

/**
 * Event `i` with ordering key `lane_<lane>`, the key and `i` in its data too: the receiver sees the data,
 * not the key, and the order is checked from them (laneOfDelivery, indexOfDelivery).
 */
const laneEvent = (i, lane) => ({
  type: "matter.created",
  data: { matterId: `lane_${lane}`, name: String(i) },
  orderingKey: `lane_${lane}`,
});
const laneOfDelivery = (d) => d.data?.matterId;
const indexOfDelivery = (d) => Number(d.data?.name);

/** Our service, fresh, with helpers to make organizations and endpoints and to publish. */
async function ourDeployment({ meter = false, inspect = false } = {}) {
  const service = await startLocalService({}, { metered: meter, inspect });
  const { base, adminToken } = service;
  return {
    service,
    /**
     * An organization with one endpoint per entry of `endpoints` ({ url, rateLimitPerSecond?, ordering? },
     * `ordering` "none" or absent: the default).
     */
    async organization(name, endpoints) {
      const { organization, token } = await organizationWithKey(service, name);
      const ids = [];
      for (const { url, rateLimitPerSecond, ordering } of endpoints) {
        const { endpoint } = await api(base, token, "POST", "/webhooks/v1/endpoints", {
          url,
          eventTypeFilters: ["matter.*"],
          ...(rateLimitPerSecond ? { rateLimitPerSecond } : {}),
          ...(ordering && ordering !== "none" ? { ordering } : {}),
        });
        ids.push(endpoint.id);
      }
      return { organization, endpointIds: ids };
    },
    /** Publishes event `i` for `organization`; resolves to the event's id once accepted. */
    publish(organization, i) {
      return this.publishEvent(organization, serviceEvent(i));
    },
    /** Publishes `event` (type, data, orderingKey…) for `organization`; resolves to its id once accepted. */
    async publishEvent(organization, event) {
      const { event: accepted } = await api(base, adminToken, "POST", "/webhooks/v1/events", {
        organizationId: organization.id,
        ...event,
      });
      return accepted.id;
    },
    stop: () => service.stop(),
  };
}

/** The baseline, fresh, publishing one message per event to `urls`. */
async function baselineDeployment({ inspect = false } = {}) {
  const worker = await startBaseline({ inspect });
  const signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
  let next = 0;
  return {
    /** Publishes one event of `tenant` to `urls`; resolves to its id once accepted. */
    async publish(urls, tenant = "bench") {
      const id = `evt_baseline_${next++}`;
      const body = JSON.stringify({ id, type: "matter.created", data: { matterId: "m", name: "n" } });
      const response = await fetch(`${worker.base}/publish`, {
        method: "POST",
        body: JSON.stringify({ id, tenant, urls, body, signature, timeoutMs: ATTEMPT_TIMEOUT_MS }),
      });
      if (response.status !== 202) throw new Error(`baseline publish: ${response.status}`);
      return id;
    },
    inspector: worker.inspector,
    stop: () => worker.stop(),
  };
}

/**
 * Our service under a burst: an organization with `fanOut` endpoints (at fan-out 10, some with a
 * rate limit), `events` published through the API. With `meter`, run through bench/metered, also what
 * the invocations logged they did, the D1 databases' sizes before and after the load, and what
 * retention's removal of it all cost.
 *
 * With `ordering` ("key" or "endpoint"), the endpoints are ordered, the events are spread over `lanes`
 * ordering keys (event i: key i mod lanes), published as any burst's, and the result says whether each
 * lane's events arrived in the order they were accepted, as far as the publishes' times tell it
 * (`order`, measure.mjs orderKept).
 */
export async function oursBurst(receiver, events, fanOut, { meter, ordering = "none", lanes = 1 }) {
  const deployment = await ourDeployment({ meter });
  try {
    const { service } = deployment;
    const limited = fanOut >= 10 ? RATE_LIMITED_AT_FAN_OUT_10 : 0;
    const { organization, endpointIds } = await deployment.organization(
      "bench",
      Array.from({ length: fanOut }, (_, i) => ({
        url: receiver.url("fast", `ours-${i}`),
        rateLimitPerSecond: i < limited ? RATE_LIMIT_PER_SECOND : undefined,
        ordering,
      })),
    );
    const rateLimited = endpointIds.slice(0, limited);
    const ordered = ordering !== "none";
    /** Event i's publish: when it was sent and answered, by the bench's clock. */
    const published = new Map();
    const publish = ordered
      ? async (i) => {
          const sentAt = performance.now();
          const id = await deployment.publishEvent(organization, laneEvent(i, i % lanes));
          published.set(i, { sentAt, answeredAt: performance.now() });
          return id;
        }
      : (i) => deployment.publish(organization, i);
    await warmUp(receiver, warmUpCount(events), fanOut, publish, "/fast/ours-");
    const logOffset = readFileSync(service.logFile, "utf8").length;
    const before = meter ? await d1Sizes(service.base) : null;
    const measured = await measureBurst(receiver, events, fanOut, publish, "/fast/ours-");
    if (ordered) {
      const publishedOf = (d) => published.get(indexOfDelivery(d));
      measured.order = orderKept(receiver.deliveries("/fast/ours-"), laneOfDelivery, publishedOf);
    }
    const shard = organization.shard;
    if (!meter) return { ...measured, shard, rateLimited };
    const lines = await linesSince(service.logFile, logOffset);
    const after = await d1Sizes(service.base);
    return {
      ...measured,
      shard,
      rateLimited,
      lines,
      storage: { before, after, retention: await retentionFarAhead(service.base) },
    };
  } finally {
    await deployment.stop();
  }
}

/** The baseline under the same burst: one message per event, to `fanOut` URLs. */
export async function baselineBurst(receiver, events, fanOut) {
  const deployment = await baselineDeployment();
  try {
    const urls = Array.from({ length: fanOut }, (_, i) => receiver.url("fast", `baseline-${i}`));
    const publish = () => deployment.publish(urls);
    await warmUp(receiver, warmUpCount(events), fanOut, publish, "/fast/baseline-");
    return await measureBurst(receiver, events, fanOut, publish, "/fast/baseline-");
  } finally {
    await deployment.stop();
  }
}

/** Our service at a steady `rate` of events a second to one endpoint, for `seconds`. */
export async function oursSteady(receiver, rate, seconds) {
  const deployment = await ourDeployment();
  try {
    const { organization } = await deployment.organization("steady", [
      { url: receiver.url("fast", "steady-ours") },
    ]);
    const publish = (i) => deployment.publish(organization, i);
    await warmUp(receiver, warmUpCount(rate * seconds), 1, publish, "/fast/steady-ours");
    return await measureSteady(receiver, rate, seconds, publish, "/fast/steady-ours");
  } finally {
    await deployment.stop();
  }
}

/** The baseline at the same steady rate. */
export async function baselineSteady(receiver, rate, seconds) {
  const deployment = await baselineDeployment();
  try {
    const urls = [receiver.url("fast", "steady-baseline")];
    const publish = () => deployment.publish(urls);
    await warmUp(receiver, warmUpCount(rate * seconds), 1, publish, "/fast/steady-baseline");
    return await measureSteady(receiver, rate, seconds, publish, "/fast/steady-baseline");
  } finally {
    await deployment.stop();
  }
}

/** B's events before a scenario, not measured, so the first measured one does not pay for a cold start. */
const NEIGHBOUR_WARM_UP = 3;

/**
 * The noisy neighbour on our service: organization B with one endpoint that answers at once,
 * organization A with one that answers after 8 s (`slow`) or never (`hang`, so its attempts time
 * out). B's publish→arrival alone, then with A publishing alongside: "alone" and "slow" on one
 * deployment (alone first, so nothing of A's is left behind it), "hang" on a fresh one. Returns B's
 * latencies in each ({ alone, slow, hang }).
 */
export async function oursNeighbour(receiver, plan) {
  const results = {};
  for (const scenarios of [["alone", "slow"], ["hang"]]) {
    const deployment = await ourDeployment();
    try {
      const b = await deployment.organization("tenant-b", [
        { url: receiver.url("fast", "neighbour-b-ours") },
      ]);
      const bUrl = receiver.url("fast", "neighbour-b-ours");
      const publishB = async (i) => ({ id: await deployment.publish(b.organization, i), url: bUrl });
      await warmUp(receiver, NEIGHBOUR_WARM_UP, 1, publishB, "/fast/neighbour-b-ours");
      for (const scenario of scenarios) {
        const a =
          scenario === "alone"
            ? null
            : await deployment.organization(`tenant-a-${scenario}`, [
                { url: receiver.url(scenario, "neighbour-a-ours") },
              ]);
        const publishA = (i) => deployment.publish(a.organization, i);
        results[scenario] = await measureNeighbour(
          receiver,
          { ...plan, aEvents: a ? plan.aEvents : 0 },
          publishA,
          publishB,
        );
      }
    } finally {
      // Stopped first, so the attempts still held end with the deployment, not as failures it retries.
      await deployment.stop().finally(() => receiver.dropPending());
    }
  }
  return results;
}

/** The same scenarios on the baseline (which isolates nothing: for context). */
export async function baselineNeighbour(receiver, plan) {
  const results = {};
  for (const scenarios of [["alone", "slow"], ["hang"]]) {
    const deployment = await baselineDeployment();
    try {
      const bUrl = receiver.url("fast", "neighbour-b-baseline");
      const publishB = async () => ({ id: await deployment.publish([bUrl], "b"), url: bUrl });
      await warmUp(receiver, NEIGHBOUR_WARM_UP, 1, publishB, "/fast/neighbour-b-baseline");
      for (const scenario of scenarios) {
        const aUrl = receiver.url(scenario === "alone" ? "fast" : scenario, "neighbour-a-baseline");
        const publishA = () => deployment.publish([aUrl], "a");
        results[scenario] = await measureNeighbour(
          receiver,
          { ...plan, aEvents: scenario === "alone" ? 0 : plan.aEvents },
          publishA,
          publishB,
        );
      }
    } finally {
      // Stopped first, so the attempts still held end with the deployment, not as failures it retries.
      await deployment.stop().finally(() => receiver.dropPending());
    }
  }
  return results;
}

/** Publish latency, one request at a time, for an organization with `endpoints` matching endpoints. */
export async function publishLatency(receiver, endpoints, publishes) {
  const service = await startLocalService({});
  try {
    const { base, adminToken } = service;
    const { organization, token } = await organizationWithKey(service, "bench");
    await pool(endpoints, 8, (i) =>
      api(base, token, "POST", "/webhooks/v1/endpoints", {
        url: receiver.url("fast", `fan-${i}`),
        eventTypeFilters: ["*"],
      }),
    );
    const durations = [];
    for (let i = 0; i < publishes; i++) {
      const started = performance.now();
      await api(base, adminToken, "POST", "/webhooks/v1/events", {
        organizationId: organization.id,
        ...serviceEvent(i),
      });
      durations.push(performance.now() - started);
    }
    durations.sort((x, y) => x - y);
    return { p50: percentile(durations, 50), p99: percentile(durations, 99) };
  } finally {
    await service.stop();
  }
}

/**
 * The CPU profile of each side over the same burst at fan-out 1 (scripts/bench/profile.mjs): the
 * Worker isolate's sampled CPU by part and the workerd processes' CPU, with the deliveries made.
 */
export async function profiles(receiver, events) {
  const ours = await ourDeployment({ inspect: true });
  let oursProfile;
  try {
    const { organization } = await ours.organization("profile", [
      { url: receiver.url("fast", "profile-ours") },
    ]);
    const publish = (i) => ours.publish(organization, i);
    await warmUp(receiver, warmUpCount(events), 1, publish, "/fast/profile-ours");
    oursProfile = await profiled(ours.service.inspector, () =>
      measureBurst(receiver, events, 1, publish, "/fast/profile-ours"),
    );
  } finally {
    await ours.stop();
  }
  const baseline = await baselineDeployment({ inspect: true });
  try {
    const url = receiver.url("fast", "profile-baseline");
    const publish = () => baseline.publish([url]);
    await warmUp(receiver, warmUpCount(events), 1, publish, "/fast/profile-baseline");
    const baselineProfile = await profiled(baseline.inspector, () =>
      measureBurst(receiver, events, 1, publish, "/fast/profile-baseline"),
    );
    return { ours: oursProfile, baseline: baselineProfile };
  } finally {
    await baseline.stop();
  }
}
