import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BUCKET_MS } from "../../../src/db/buckets";
import { getOrganization } from "../../../src/db/organizations";
import { shards } from "../../../src/db/shards";
import { publishEvent } from "../../../src/events/publish";
import worker from "../../../src/index";
import { type OrganizationId, timeOfId } from "../../../src/lib/ids";
import { SWEEP_GRACE_MS } from "../../../src/lib/queue";
import { applyRetention } from "../../../src/sweeper/retention";
import {
  ADMIN_TOKEN,
  call,
  callOk,
  createOrganization,
  publishRpc,
  settledDeliveries,
} from "../../support/api";
import { failingQueue } from "../../support/faults";
import { givenEndpoint, matter, type Organization, publishSettled } from "../../support/fixtures";
import { countIn } from "../../support/shards";

/**
 * The data plane partitioned by organization (src/db/shards.ts, docs/scale.md): the tests run with
 * three shards, DB_SHARD_0 (the primary database itself), DB_SHARD_1 and DB_SHARD_2, new
 * organizations spread over them by SHARD_WEIGHTS = "1,1,1".
 */

const SHARDS = [0, 1, 2];

/** The shard the control plane records for the organization. */
const shardRecorded = async (id: string) => (await getOrganization(env.DB, id as OrganizationId))?.shard;

/** A new organization that the weighted draw put on shard `index` (each draw is a coin toss here). */
async function organizationOnShard(index: number): Promise<Organization> {
  for (let tries = 0; tries < 40; tries++) {
    const org = await createOrganization(`on shard ${index}`);
    if ((await shardRecorded(org.id)) === index) return org;
  }
  throw new Error(`no organization landed on shard ${index} in 40 draws`);
}

const shardDb = (index: number) => shards(env)[index]?.db as D1Database;

/** The organization's rows of `kind` on shard `index`, in every table of its history. */
const rowsOn = (index: number, kind: "events" | "deliveries", organizationId: string) =>
  countIn(shardDb(index), kind, "organization_id = ?", organizationId);

describe("organizations and their shard", () => {
  it("has at least two shards to test with", () => {
    expect(shards(env).map((s) => s.index)).toEqual(SHARDS);
  });

  it("keeps shard 0 in the primary database, where data from before shards already is", async () => {
    const org = await createOrganization();
    // A control-plane row written through DB is read through DB_SHARD_0: one database, two bindings.
    expect(
      await shardDb(0).prepare("SELECT name FROM organizations WHERE id = ?").bind(org.id).first("name"),
    ).toBe("Acme");
    expect(
      await shardDb(1).prepare("SELECT name FROM sqlite_master WHERE name = 'organizations'").first(),
    ).toBeNull();
  });

  it("spreads new organizations over the shards by weight, and says where each one is", async () => {
    const created = await Promise.all(
      Array.from({ length: 60 }, (_, i) => createOrganization(`spread ${i}`)),
    );
    const { data } = await callOk("GET", "/admin/v1/organizations?limit=100", 200, { token: ADMIN_TOKEN });
    const placed = await Promise.all(
      created.map(async (org) => {
        const listed = data.find((o: { id: string }) => o.id === org.id);
        expect(listed.shard).toBe(await shardRecorded(org.id));
        return listed.shard as number;
      }),
    );
    // One of three shards left out of 60 even draws: about 1 in 10 billion.
    expect(new Set(placed)).toEqual(new Set(SHARDS));
  });
});

describe("an organization's shard is never recomputed", () => {
  it("stays where it was created when SHARD_WEIGHTS changes; only new organizations follow the new weights", async () => {
    const org = await organizationOnShard(1);
    await givenEndpoint({ org });
    const { event } = await publishSettled(org);

    // Redeployed with shard 1 closed to new organizations (`SHARD_WEIGHTS = "1,0"`).
    const reweighted = { ...env, SHARD_WEIGHTS: "1,0" } as Env;
    const under = (method: string, path: string, token: string, body?: unknown) =>
      worker.fetch(
        new Request(`https://webhooks.test${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }) as Parameters<typeof worker.fetch>[0],
        reweighted,
        createExecutionContext(),
      );
    const found = await under("GET", `/webhooks/v1/events/${event.id}`, org.token);
    expect(found.status).toBe(200);
    expect(await shardRecorded(org.id)).toBe(1);
    for (let i = 0; i < 10; i++) {
      const created = await under("POST", "/admin/v1/organizations", ADMIN_TOKEN, { name: `new ${i}` });
      expect(((await created.json()) as { organization: { shard: number } }).organization.shard).toBe(0);
    }
  });
});

describe("an organization's events and deliveries live on its shard alone", () => {
  it.each(SHARDS)(
    "on shard %i: publish, retries, replay, recover, the sweeper and idempotent and RPC publishes",
    async (index) => {
      const org = await organizationOnShard(index);
      // The first event fails its inline attempts (two 500s), then succeeds from the queue.
      const { receiver, endpoint } = await givenEndpoint({ org, script: [{ status: 500 }, { status: 500 }] });
      const { event, delivery } = await publishSettled(org);
      expect(delivery).toMatchObject({ status: "delivered", attemptCount: 3 });

      // A replay, and a recover of a failure (404 fails at once).
      await callOk("POST", `/webhooks/v1/deliveries/${delivery.id}/replay`, 202, { token: org.token });
      await settledDeliveries(org.token, `event_id=${event.id}`, 2);
      await receiver.script([{ status: 404 }]);
      const since = new Date(Date.now() - 1_000).toISOString();
      const { event: failed } = await publishSettled(org);
      const recovered = await callOk("POST", `/webhooks/v1/endpoints/${endpoint.id}/recover`, 202, {
        token: org.token,
        body: { since },
      });
      expect(recovered.replayed).toBe(1);
      await settledDeliveries(org.token, `event_id=${failed.id}`, 2);

      // An event whose queue send failed: stored, then sent by the sweeper, which walks every shard.
      const { event: swept } = await publishEvent(
        { ...env, EVENTS_QUEUE: failingQueue() },
        { organizationId: org.id as OrganizationId, type: "matter.created", data: matter },
      );
      await worker.scheduled(
        createScheduledController({ scheduledTime: Date.now() + SWEEP_GRACE_MS + 10_000 }),
        env,
      );
      await settledDeliveries(org.token, `event_id=${swept.id}`, 1);

      // Idempotent publishes find the first event on the shard; the RPC publisher writes there too.
      const keyed = () =>
        callOk("POST", "/webhooks/v1/events", 202, {
          token: ADMIN_TOKEN,
          body: { organizationId: org.id, type: "matter.created", data: matter },
          headers: { "Idempotency-Key": `shard-${index}` },
        });
      const first = await keyed();
      expect((await keyed()).event.id).toBe(first.event.id);
      const rpc = await publishRpc({ organizationId: org.id, type: "matter.created", data: matter });
      expect(rpc.ok).toBe(true);
      await settledDeliveries(org.token, `endpoint_id=${endpoint.id}`, 7);

      expect(await rowsOn(index, "events", org.id)).toBe(5);
      expect(await rowsOn(index, "deliveries", org.id)).toBe(7);
      for (const other of SHARDS.filter((i) => i !== index)) {
        expect(await rowsOn(other, "events", org.id)).toBe(0);
        expect(await rowsOn(other, "deliveries", org.id)).toBe(0);
      }
    },
  );

  it("lets no organization read another's history, whichever shards they are on", async () => {
    const [a, b] = [await organizationOnShard(0), await organizationOnShard(2)];
    for (const [reader, owner] of [
      [a, b],
      [b, a],
    ] as const) {
      await givenEndpoint({ org: owner });
      const { event, delivery } = await publishSettled(owner);
      for (const path of [`/webhooks/v1/events/${event.id}`, `/webhooks/v1/deliveries/${delivery.id}`]) {
        expect((await call("GET", path, { token: reader.token })).status).toBe(404);
        expect((await call("GET", path, { token: owner.token })).status).toBe(200);
      }
      const listed = await callOk("GET", "/webhooks/v1/events?limit=100", 200, { token: reader.token });
      expect(listed.data.map((e: { id: string }) => e.id)).not.toContain(event.id);
    }
  });

  it("applies retention on every shard, a week at a time", async () => {
    const orgs = [];
    for (const index of SHARDS) orgs.push(await organizationOnShard(index));
    const events = [];
    for (const org of orgs) {
      await givenEndpoint({ org });
      events.push((await publishSettled(org)).event);
    }
    const weekEnd = Math.max(...events.map((e) => (Math.floor(timeOfId(e.id) / BUCKET_MS) + 1) * BUCKET_MS));

    // Before the week is RETENTION_DAYS (30) old, nothing goes; after, its tables go on every shard.
    expect((await applyRetention(env, weekEnd + 29 * 86_400_000)).weeks).toBe(0);
    for (const [i, org] of orgs.entries()) expect(await rowsOn(i, "events", org.id)).toBe(1);
    expect((await applyRetention(env, weekEnd + 30 * 86_400_000)).weeks).toBeGreaterThanOrEqual(
      SHARDS.length,
    );
    for (const [i, org] of orgs.entries()) {
      const listed = await callOk("GET", "/webhooks/v1/events?limit=100", 200, { token: org.token });
      expect(listed.data).toEqual([]);
      expect(await rowsOn(i, "events", org.id)).toBe(0);
      expect(await rowsOn(i, "deliveries", org.id)).toBe(0);
    }
  });
});

describe("history reads through a D1 session (read replication)", () => {
  it("answers each history read with a bookmark, takes one back, and refuses one it did not give", async () => {
    const { org } = await givenEndpoint();
    const { event, delivery } = await publishSettled(org);
    const paths = [
      "/webhooks/v1/events",
      `/webhooks/v1/events/${event.id}`,
      "/webhooks/v1/deliveries",
      `/webhooks/v1/deliveries/${delivery.id}`,
    ];
    for (const path of paths) {
      const first = await call("GET", path, { token: org.token });
      expect(first.status).toBe(200);
      const bookmark = first.headers.get("x-bookmark");
      expect(bookmark).toMatch(/^[0-9a-f]+(-[0-9a-f]+)*$/i);
      const again = await call("GET", path, {
        token: org.token,
        headers: { "X-Bookmark": bookmark as string },
      });
      expect(again.status).toBe(200);
      expect(again.headers.get("x-bookmark")).toMatch(/^[0-9a-f]+(-[0-9a-f]+)*$/i);
    }
    const bad = await call("GET", "/webhooks/v1/events", {
      token: org.token,
      headers: { "X-Bookmark": "'; DROP TABLE events; --" },
    });
    expect(bad.status).toBe(422);
    expect(bad.headers.get("content-type")).toContain("application/problem+json");
  });
});
