import { describe, expect, it } from "vitest";
import {
  call,
  callOk,
  createApiKey,
  createEndpoint,
  createOrganization,
  publish,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";
import { snapshotOf } from "../../support/snapshot";

const matter = { matterId: "matter_1", name: "n" };
const vault = { vaultId: "vault_1", objectId: "obj_1", filename: "a.pdf" };

/**
 * An organization with a `*` key and a key scoped to vaults, and endpoints the `*` key subscribed:
 * one to matter events, one to vault events only, one to everything.
 */
async function organizationWithTwoKeys() {
  const org = await createOrganization();
  const vaultsToken = await createApiKey(org.id, ["vaults"]);
  const receiver = receiverChannel();
  const matters = (await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["matter.*"] }))
    .endpoint;
  const vaults = (await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["vault.*"] }))
    .endpoint;
  const everything = (await createEndpoint(org.token, { url: receiver.url, eventTypeFilters: ["*"] }))
    .endpoint;
  const matterEvent = await publish(org.id, "matter.created", matter);
  const vaultEvent = await publish(org.id, "vault.ingest.completed", vault);
  const matterDeliveries = await settledDeliveries(org.token, `event_id=${matterEvent.id}`, 2);
  const vaultDeliveries = await settledDeliveries(org.token, `event_id=${vaultEvent.id}`, 2);
  const deliveryTo = (list: { endpointId: string; id: string }[], endpointId: string) =>
    list.find((d) => d.endpointId === endpointId)?.id as string;
  return {
    org,
    vaultsToken,
    receiver,
    endpoints: { matters, vaults, everything },
    events: { matter: matterEvent, vault: vaultEvent },
    deliveries: {
      matterToMatters: deliveryTo(matterDeliveries, matters.id),
      vaultToVaults: deliveryTo(vaultDeliveries, vaults.id),
      vaultToEverything: deliveryTo(vaultDeliveries, everything.id),
    },
  };
}

describe("a narrower key cannot take over a wider key's subscription", () => {
  it("answers 403 problem+json on every route that changes or acts for an endpoint it does not cover, and changes nothing", async () => {
    const { org, vaultsToken, receiver, endpoints, deliveries } = await organizationWithTwoKeys();
    const before = await snapshotOf(org.id);
    const received = (await receiver.received()).length;
    const takeOver = receiverChannel().url;

    const routes: [string, string, unknown?][] = [
      ["PATCH", `/webhooks/v1/endpoints/${endpoints.matters.id}`, { url: takeOver }],
      ["PATCH", `/webhooks/v1/endpoints/${endpoints.everything.id}`, { url: takeOver }],
      ["PATCH", `/webhooks/v1/endpoints/${endpoints.matters.id}`, { eventTypeFilters: ["vault.*"] }],
      ["DELETE", `/webhooks/v1/endpoints/${endpoints.matters.id}`],
      ["POST", `/webhooks/v1/endpoints/${endpoints.matters.id}/rotate_secret`, {}],
      ["POST", `/webhooks/v1/endpoints/${endpoints.matters.id}/test`, {}],
      ["POST", `/webhooks/v1/endpoints/${endpoints.matters.id}/recover`, { since: "2020-01-01T00:00:00Z" }],
      // A delivery the key may read (a vault event), to an endpoint it does not cover.
      ["POST", `/webhooks/v1/deliveries/${deliveries.vaultToEverything}/replay`, {}],
    ];
    for (const [method, path, body] of routes) {
      const response = await call(method, path, { token: vaultsToken, body });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      const problem = await response.json<{ title: string; detail: string }>();
      expect(problem.title).toBe("Forbidden");
      expect(problem.detail, `${method} ${path}`).toContain("matters");
    }
    expect(await snapshotOf(org.id)).toBe(before);
    expect((await receiver.received()).length).toBe(received);
  });

  it("lets a key change and act for the endpoints its scopes cover, whichever key created them", async () => {
    const { org, vaultsToken, endpoints, deliveries } = await organizationWithTwoKeys();
    const path = `/webhooks/v1/endpoints/${endpoints.vaults.id}`;
    await callOk("PATCH", path, 200, { token: vaultsToken, body: { description: "mine too" } });
    await callOk("POST", `${path}/rotate_secret`, 200, { token: vaultsToken, body: {} });
    await callOk("POST", `${path}/test`, 200, {
      token: vaultsToken,
      body: { eventType: "vault.ingest.completed" },
    });
    await callOk("POST", `${path}/recover`, 202, {
      token: vaultsToken,
      body: { since: "2020-01-01T00:00:00Z" },
    });
    await callOk("POST", `/webhooks/v1/deliveries/${deliveries.vaultToVaults}/replay`, 202, {
      token: vaultsToken,
    });
    await callOk("DELETE", path, 204, { token: vaultsToken });

    // A key covering both scopes may take the matter endpoint; the `*` key covers everything.
    const both = await createApiKey(org.id, ["matters", "vaults"]);
    await callOk("PATCH", `/webhooks/v1/endpoints/${endpoints.matters.id}`, 200, {
      token: both,
      body: { description: "b" },
    });
    await callOk("PATCH", `/webhooks/v1/endpoints/${endpoints.everything.id}`, 200, {
      token: org.token,
      body: { description: "c" },
    });
  });

  it("shows a key only the events and deliveries of types its scopes cover; others read as missing", async () => {
    const { vaultsToken, events, deliveries } = await organizationWithTwoKeys();
    const read = (path: string) => callOk("GET", path, 200, { token: vaultsToken });
    const types = (page: { data: { type?: string; eventType?: string }[] }) =>
      page.data.map((item) => item.type ?? item.eventType);

    expect(types(await read("/webhooks/v1/events"))).toEqual(["vault.ingest.completed"]);
    expect(types(await read("/webhooks/v1/events?event_type=matter.created"))).toEqual([]);
    expect(types(await read("/webhooks/v1/deliveries"))).toEqual([
      "vault.ingest.completed",
      "vault.ingest.completed",
    ]);
    expect(types(await read(`/webhooks/v1/deliveries?event_id=${events.matter.id}`))).toEqual([]);
    expect(types(await read("/webhooks/v1/deliveries?event_type=matter.created"))).toEqual([]);

    await read(`/webhooks/v1/events/${events.vault.id}`);
    await read(`/webhooks/v1/deliveries/${deliveries.vaultToVaults}`);
    for (const path of [
      `/webhooks/v1/events/${events.matter.id}`,
      `/webhooks/v1/deliveries/${deliveries.matterToMatters}`,
    ]) {
      const response = await call("GET", path, { token: vaultsToken });
      expect(response.status, path).toBe(404);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    }
    const replay = await call("POST", `/webhooks/v1/deliveries/${deliveries.matterToMatters}/replay`, {
      token: vaultsToken,
    });
    expect(replay.status).toBe(404);
  });
});
