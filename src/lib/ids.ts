/**
 * Prefixed, time-sortable identifiers (ULID layout: 48-bit millisecond time + 80 random bits, Crockford
 * base32). Sorting ids sorts by creation time, which is what newest-first lists and cursors rely on.
 * Each kind is a branded type so an endpoint id cannot be passed where a delivery id is expected.
 */
type Brand<T, B extends string> = T & { readonly __brand: B };

export type OrganizationId = Brand<string, "OrganizationId">;
export type ApiKeyId = Brand<string, "ApiKeyId">;
export type EndpointId = Brand<string, "EndpointId">;
export type EventId = Brand<string, "EventId">;
export type DeliveryId = Brand<string, "DeliveryId">;

export const ID_PREFIX = {
  organization: "org_",
  apiKey: "key_",
  endpoint: "evsub_",
  event: "evt_",
  delivery: "dlv_",
  /** A test send's ids (`POST …/test`): no real event or delivery id contains `test_`. */
  testEvent: "evt_test_",
  testDelivery: "dlv_test_",
} as const;

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_LENGTH = 10;
const RANDOM_LENGTH = 16;

let lastTime = -1;
let lastRandom: number[] = [];

/**
 * A ULID body. Within one millisecond the random part is incremented rather than redrawn, so ids made
 * by one isolate keep their creation order even when they share a timestamp.
 */
export function ulid(now = Date.now()): string {
  if (now <= lastTime) {
    lastRandom = increment(lastRandom);
  } else {
    lastTime = now;
    lastRandom = Array.from(crypto.getRandomValues(new Uint8Array(RANDOM_LENGTH)), (b) => b % 32);
  }
  return encodeTime(lastTime) + lastRandom.map((d) => ALPHABET[d]).join("");
}

function increment(digits: number[]): number[] {
  const next = [...digits];
  for (let i = next.length - 1; i >= 0; i--) {
    const digit = next[i] ?? 0;
    if (digit < 31) {
      next[i] = digit + 1;
      return next;
    }
    next[i] = 0;
  }
  return next;
}

function encodeTime(ms: number): string {
  let out = "";
  let rest = ms;
  for (let i = 0; i < TIME_LENGTH; i++) {
    out = ALPHABET[rest % 32] + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

export type IdKind = keyof typeof ID_PREFIX;

/** The branded type of each kind of id. */
export type IdOfKind<K extends IdKind> = {
  organization: OrganizationId;
  apiKey: ApiKeyId;
  endpoint: EndpointId;
  event: EventId;
  delivery: DeliveryId;
  testEvent: EventId;
  testDelivery: DeliveryId;
}[K];

/**
 * The ids of `kind` this service makes: its prefix and a ULID body. A client echoes ids back (list
 * cursors, recover's cursor), so each is checked against the kind it must be before it reaches a query.
 */
export const idPattern = (kind: IdKind) =>
  new RegExp(`^${ID_PREFIX[kind]}[${ALPHABET}]{${TIME_LENGTH + RANDOM_LENGTH}}$`);

export const newOrganizationId = () => (ID_PREFIX.organization + ulid()) as OrganizationId;
export const newApiKeyId = () => (ID_PREFIX.apiKey + ulid()) as ApiKeyId;
export const newEndpointId = () => (ID_PREFIX.endpoint + ulid()) as EndpointId;
export const newEventId = () => (ID_PREFIX.event + ulid()) as EventId;
export const newDeliveryId = () => (ID_PREFIX.delivery + ulid()) as DeliveryId;
export const newTestEventId = () => (ID_PREFIX.testEvent + ulid()) as EventId;
export const newTestDeliveryId = () => (ID_PREFIX.testDelivery + ulid()) as DeliveryId;

/**
 * Delivery ids begin with their event's time, not their own: an organization's deliveries list newest
 * event first, and all deliveries of one event (its replays too) share one id range, so "the
 * deliveries of this event" needs no index of its own.
 */
const eventTime = (eventId: EventId) =>
  eventId.slice(ID_PREFIX.event.length, ID_PREFIX.event.length + TIME_LENGTH);

const encoder = new TextEncoder();

/**
 * The delivery id of an event's first delivery to an endpoint is derived from both ids: a hash of the
 * pair makes fan-out idempotent (run twice, it finds the same primary key) without a unique index.
 * The derivation never changes: a fan-out run again after a deploy must find the ids the one before
 * wrote. Fan-out derives one per matched pair (35,000 in a batch to 1,000 endpoints), so it is kept lean.
 */
export async function fanOutDeliveryId(eventId: EventId, endpointId: EndpointId): Promise<DeliveryId> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", encoder.encode(`${eventId}:${endpointId}`)),
  );
  let random = "";
  for (let i = 0; i < RANDOM_LENGTH; i++) random += ALPHABET[(digest[i] as number) % 32];
  return (ID_PREFIX.delivery + eventTime(eventId) + random) as DeliveryId;
}

/** A replay's id: its event's time, then random. */
export function replayDeliveryId(eventId: EventId): DeliveryId {
  const random = ulid().slice(TIME_LENGTH);
  return (ID_PREFIX.delivery + eventTime(eventId) + random) as DeliveryId;
}

/** Sorts after every id character: `<prefix>~` bounds the ids that start with `<prefix>`. */
export const RANGE_END = "~";

/** The id range [from, to) that holds every delivery of events made in `eventId`'s millisecond. */
export function deliveryIdRange(eventId: EventId): { from: string; to: string } {
  const from = ID_PREFIX.delivery + eventTime(eventId);
  return { from, to: `${from}${RANGE_END}` };
}

/** How many leading characters of a delivery id name its event's time: deliveryIdRange's `from`. */
export const DELIVERY_RANGE_PREFIX_LENGTH = ID_PREFIX.delivery.length + TIME_LENGTH;

/**
 * The time an id names, in milliseconds: its creation's, or for a delivery its event's. Read from the
 * ten characters after the kind's prefix (`evt_`, `dlv_`, …); 0 for an id without a readable time.
 */
export function timeOfId(id: string): number {
  const time = id.slice(id.indexOf("_") + 1, id.indexOf("_") + 1 + TIME_LENGTH);
  let ms = 0;
  for (const char of time) {
    const digit = ALPHABET.indexOf(char);
    if (digit < 0) return 0;
    ms = ms * 32 + digit;
  }
  return time.length === TIME_LENGTH ? ms : 0;
}

/** The smallest id of `prefix` made at `ms`: ids below it were made earlier (for time-bounded scans). */
export function idAt(prefix: string, ms: number): string {
  return prefix + encodeTime(ms);
}
