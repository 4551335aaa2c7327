import type { EventId, OrganizationId } from "../lib/ids";

/**
 * What an event is, for every stage that handles one (publishing, fan-out, the API, storage). Types
 * only: the modules that act on events import this, and it imports none of them.
 */

/** `{ vault: "vault_123", matter: "matter_9" }`: the resources an event is about, by catalog name. */
export type EventResources = Record<string, string>;

/** What a delivery's body is built from: the event's data (or a replay's own), resources and time. */
export type EventContent = {
  data: unknown;
  resources: EventResources;
  occurredAt: string;
  /**
   * The W3C trace the event belongs to (lib/trace.ts), from its publisher's `traceparent` or new. It
   * travels with the event in messages, not in its row: an event read back from storage (a sweeper's
   * re-send) has none, and its deliveries start a trace of their own.
   */
  traceId?: string;
};

export type EventRecord = EventContent & {
  id: EventId;
  organizationId: OrganizationId;
  type: string;
  createdAt: string;
  /** Set when the event was accepted for an organization with an ordered endpoint (src/ordering/). */
  order?: EventOrder;
};

/**
 * An ordered event's place: `sequence`, its organization's acceptance order (db/events.ts), and the
 * publisher's `orderingKey`, if it gave one.
 */
export type EventOrder = { sequence: number; key: string | null };

/**
 * Whether the event has been fanned out: `pending` until a fan-out run has recorded or handed on a
 * first attempt to every matching endpoint; `failed` once the sweeper gave up (sweeper/sweep.ts).
 * `error` says what went wrong last, while pending, or why it was given up.
 */
export const FAN_OUT_STATUSES = ["pending", "done", "failed"] as const;
export type FanOutStatus = (typeof FAN_OUT_STATUSES)[number];
export type FanOut = { status: FanOutStatus; error: string | null };

/** An event as read back, with where its fan-out stands. */
export type StoredEvent = EventRecord & { fanOut: FanOut };

/** The publisher's Idempotency-Key and the hash of what it published under it. */
export type IdempotencyRecord = { key: string; requestHash: string };
