import type { EventId, OrganizationId } from "../lib/ids";

/** `{ vault: "vault_123", matter: "matter_9" }`: the resources an event is about, by catalog name. */
export type EventResources = Record<string, string>;

export type EventRecord = {
  id: EventId;
  organizationId: OrganizationId;
  type: string;
  data: unknown;
  resources: EventResources;
  occurredAt: string;
  createdAt: string;
};

type EventRow = {
  id: string;
  organization_id: string;
  type: string;
  data: string;
  resources: string;
  occurred_at: string;
  created_at: string;
};

const toEvent = (row: EventRow): EventRecord => ({
  id: row.id as EventId,
  organizationId: row.organization_id as OrganizationId,
  type: row.type,
  data: JSON.parse(row.data),
  resources: JSON.parse(row.resources),
  occurredAt: row.occurred_at,
  createdAt: row.created_at,
});

export async function insertEvent(db: D1Database, e: EventRecord): Promise<void> {
  await db
    .prepare(
      `INSERT INTO events (id, organization_id, type, data, resources, occurred_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      e.id,
      e.organizationId,
      e.type,
      JSON.stringify(e.data),
      JSON.stringify(e.resources),
      e.occurredAt,
      e.createdAt,
    )
    .run();
}

/** For fan-out, which is not scoped by organization: the event names its own. */
export async function getEventById(db: D1Database, id: string): Promise<EventRecord | null> {
  const row = await db.prepare("SELECT * FROM events WHERE id = ?").bind(id).first<EventRow>();
  return row ? toEvent(row) : null;
}

/** Written in the same batch as the event's deliveries, so the sweeper never re-sends a done fan-out. */
export function markEventFannedOut(db: D1Database, id: EventId, at: string): D1PreparedStatement {
  return db.prepare("UPDATE events SET fanned_out_at = ? WHERE id = ?").bind(at, id);
}

/** Events created before `beforeId` that were never fanned out (their queue message was lost). */
export async function listEventsAwaitingFanOut(
  db: D1Database,
  beforeId: string,
  limit: number,
): Promise<EventId[]> {
  const { results } = await db
    .prepare("SELECT id FROM events WHERE fanned_out_at IS NULL AND id < ? ORDER BY id LIMIT ?")
    .bind(beforeId, limit)
    .all<{ id: string }>();
  return results.map((r) => r.id as EventId);
}
