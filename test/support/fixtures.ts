import { env } from "cloudflare:workers";
import { endpointHealth } from "../../src/health/endpoint-health";
import type { EndpointId } from "../../src/lib/ids";
import {
  callOk,
  createEndpoint,
  createOrganization,
  eventually,
  publish,
  receiverChannel,
  settledDeliveries,
} from "./api";
import type { ScriptedAnswer } from "./receiver";

/**
 * The set-up most tests start from, said once: an organization, an endpoint on a fresh receiver
 * channel, an event published and its deliveries settled, and the reads a test makes of them.
 */
export type Organization = { id: string; token: string };
export type Receiver = ReturnType<typeof receiverChannel>;

/** An ordinary event's data, valid for `matter.created`. */
export const matter = { matterId: "matter_1", name: "Acme v. Globex" };

/** What a test needs of its endpoint; any other field is an endpoint setting, sent as it is. */
export type EndpointGiven = {
  /** The endpoint's organization; a new one when absent. */
  org?: Organization;
  /** Its `eventTypeFilters`; matter events when absent. */
  filters?: string[];
  /** The receiver's first answers, then `fallback` for every later request (200 when absent). */
  script?: ScriptedAnswer[];
  fallback?: ScriptedAnswer;
  [setting: string]: unknown;
};

/** An endpoint on a receiver channel of its own, created through the API as described. */
export async function givenEndpoint({
  org,
  filters = ["matter.*"],
  script,
  fallback,
  ...settings
}: EndpointGiven = {}) {
  const organization = org ?? (await createOrganization());
  const receiver = receiverChannel();
  if (script || fallback) await receiver.script(script ?? [], fallback);
  const { endpoint, signingSecret } = await createEndpoint(organization.token, {
    url: receiver.url,
    eventTypeFilters: filters,
    ...settings,
  });
  return { org: organization, receiver, endpoint, signingSecret: signingSecret as string };
}

/**
 * Publishes an event through the API and waits until `count` of its deliveries have settled;
 * `deliveries` in the order the API lists them, `delivery` the first.
 */
export async function publishSettled(
  org: Organization,
  {
    type = "matter.created",
    data = matter as unknown,
    count = 1,
    timeout = undefined as number | undefined,
  } = {},
) {
  const event = await publish(org.id, type, data);
  const deliveries = await settledDeliveries(org.token, `event_id=${event.id}`, count, timeout);
  return { event, deliveries, delivery: deliveries[0] };
}

/**
 * Rotates the endpoint's signing secret; the old one keeps signing for `previousSecretExpiresInSec`
 * (the API's default, a day, when absent). Returns the new secret and when the old one stops.
 */
export async function rotateSecret(
  org: Organization,
  endpointId: string,
  previousSecretExpiresInSec?: number,
): Promise<{ signingSecret: string; previousSecretExpiresAt: string }> {
  return callOk("POST", `/webhooks/v1/endpoints/${endpointId}/rotate_secret`, 200, {
    token: org.token,
    body: previousSecretExpiresInSec === undefined ? undefined : { previousSecretExpiresInSec },
  });
}

/** An endpoint's health view, as its owner reads it. */
export async function healthOf(org: Organization, endpointId: string) {
  return (await callOk("GET", `/webhooks/v1/endpoints/${endpointId}/health`, 200, { token: org.token }))
    .health;
}

/** Waits until the endpoint's status is `status`; returns the endpoint as its owner then reads it. */
export async function endpointBecomes(
  org: Organization,
  endpointId: string,
  status: string,
  timeout?: number,
) {
  return eventually(async () => {
    const { endpoint } = await callOk("GET", `/webhooks/v1/endpoints/${endpointId}`, 200, {
      token: org.token,
    });
    return endpoint.status === status ? endpoint : undefined;
  }, timeout);
}

/** Where an event's fan-out stands, as its owner reads it. */
export async function fanOutOf(org: Organization, eventId: string) {
  return (await callOk("GET", `/webhooks/v1/events/${eventId}`, 200, { token: org.token })).event.fanOut;
}

/** The endpoint's health object (EndpointHealth), as the delivery consumer reaches it. */
export const healthObject = (endpointId: string) => endpointHealth(env, endpointId as EndpointId);
