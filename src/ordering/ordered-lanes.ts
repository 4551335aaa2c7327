import { fannedOutBelow } from "../db/events";
import { dataOf } from "../db/shards";
import type { DeliveryMessage, LaneTurn } from "../domain/delivery";
import type { DeliveryId, EndpointId, OrganizationId } from "../lib/ids";
import {
  type Enqueued,
  enqueue,
  type Handout,
  hold,
  type LaneEntry,
  type LaneItem,
  type LaneState,
  newLane,
  next,
  type Outcome,
  positionOf,
  release,
  report,
  waiting,
  wakeAt,
} from "./lane";

/**
 * An endpoint's ordered lanes, kept in its Durable Object's SQLite storage (health/endpoint-health.ts
 * owns the object and its one alarm): a row per lane that holds deliveries, its state the pure lane's
 * JSON (lane.ts), and when it next needs a look. This is where the lanes' side effects are: sending a
 * delivery's message when its turn comes, and asking the shard whether a lower-numbered event is still
 * on its way (docs/architecture.md#ordered-lanes). Every change of a lane is made in one synchronous
 * stretch of SQL, so no other call of the object interleaves with it.
 */
export type OrderedItem = LaneItem & { lane: string };

/** What a run tells a lane of the delivery it was given: its outcome, or that the endpoint is disabled. */
export type LaneReport = { turn: LaneTurn; outcome: Outcome | { kind: "held" } };

/** A lane as the API lists it. */
export type LaneSummary = { lane: string; length: number; head: LaneEntry | null; held: boolean };

/** Where a delivery waits: its lane, its number and how many are ahead of it. */
export type LanePlace = { lane: string; sequence: number; position: number };

/** Lanes handed out per look; more due lanes get another look at once (the alarm). */
const LANES_PER_LOOK = 100;
/** A lane whose head waits for a lower-numbered event's fan-out looks again this much later. */
const FAN_OUT_RECHECK_MS = 1_000;

type Meta = {
  organizationId: OrganizationId | null;
  endpointId: EndpointId | null;
  held: boolean;
  /**
   * Every ordered event numbered below it was fanned out (db/events.ts fannedOutBelow): a delivery
   * numbered up to it may go, its own event's fan-out being the one that handed it here.
   */
  fannedOutBelow: number;
  /** Above every token any lane of this object has given, so a lane made again never repeats one. */
  lastToken: number;
  /** How long a handed-out delivery may go without a report: the delivery engine's to say. */
  leaseMs: number;
};

const DEFAULT_META: Meta = {
  organizationId: null,
  endpointId: null,
  held: false,
  fannedOutBelow: 0,
  lastToken: 0,
  leaseMs: 300_000,
};

export class OrderedLanes {
  /** Deliveries handed out by the calls since the last flush, and lanes waiting for a look at the shard. */
  private readonly handedOut: DeliveryMessage[] = [];
  private readonly blocked = new Set<string>();
  /** The meta row as last read or written, so an unchanged one is not written again. */
  private metaRow: string | null = null;

  /**
   * `dispatch` sends deliveries whose turn came (health/endpoint-health.ts: into the Worker itself);
   * it must not wait for their attempts, and what it fails to send goes again after its lease.
   */
  constructor(
    private readonly sql: SqlStorage,
    private readonly env: Env,
    private readonly dispatch: (messages: DeliveryMessage[]) => void,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS ordered_lanes (
      key TEXT PRIMARY KEY, state TEXT NOT NULL, wake_at INTEGER)`);
    // No index on wake_at: a look at the due lanes reads every lane row (reads cost a thousandth of
    // writes), and every change of a lane would write the index too.
    sql.exec(
      "CREATE TABLE IF NOT EXISTS ordered_meta (id INTEGER PRIMARY KEY CHECK (id = 1), meta TEXT NOT NULL)",
    );
  }

  /**
   * Adds deliveries to their lanes, and hands out those whose turn it is (flush sends them); says for
   * each, in order, whether it was taken, a duplicate, or refused.
   */
  enqueue(
    owner: { organizationId: OrganizationId; endpointId: EndpointId; leaseMs: number },
    items: readonly OrderedItem[],
    now: number,
  ): Enqueued[] {
    const meta = { ...this.meta(), ...owner };
    const lanes = new Map<string, LaneState>();
    const results = items.map(({ lane: key, ...item }) => {
      const lane = lanes.get(key) ?? this.lane(key) ?? newLane(meta.lastToken);
      const done = enqueue(meta.held ? hold(lane) : lane, item, now);
      lanes.set(key, done.lane);
      return done.result;
    });
    for (const [key, lane] of lanes) this.turn(key, lane, meta, now, true);
    this.saveMeta(meta);
    return results;
  }

  /**
   * What runs tell of the deliveries they were given, each lane then handing out its next. A report
   * for a turn that is not the lane's current one changes nothing (lane.ts). `held`: the run found the
   * endpoint disabled; its lanes hold, the head to be sent again once they are released.
   */
  report(reports: readonly LaneReport[], now: number): void {
    if (reports.some((r) => r.outcome.kind === "held")) this.hold();
    const meta = this.meta();
    for (const { turn, outcome } of reports) {
      const lane = this.lane(turn.lane);
      if (!lane) continue;
      const told = outcome.kind === "held" ? { kind: "retry" as const, at: now } : outcome;
      const reported = report(lane, turn.token, told, now);
      this.turn(turn.lane, reported.lane, meta, now, reported.result.kind !== "stale");
    }
    this.saveMeta(meta);
  }

  /** The endpoint is disabled: nothing is sent, every delivery keeps its place. */
  hold(): void {
    const meta = this.meta();
    if (meta.held) return;
    this.sql.exec("UPDATE ordered_lanes SET state = json_set(state, '$.held', json('true')), wake_at = NULL");
    this.saveMeta({ ...meta, held: true });
  }

  /** The endpoint is enabled again: its lanes go on where they were (flush sends what is due). */
  release(now: number): void {
    const meta = { ...this.meta(), held: false };
    const rows = [...this.sql.exec<{ key: string; state: string }>("SELECT key, state FROM ordered_lanes")];
    for (const { key, state } of rows)
      this.turn(key, release(JSON.parse(state) as LaneState), meta, now, true);
    this.saveMeta(meta);
  }

  /** Hands out the next delivery of every lane whose time has come (the alarm); flush sends them. */
  due(now: number): void {
    const meta = this.meta();
    const rows = this.sql.exec<{ key: string; state: string }>(
      "SELECT key, state FROM ordered_lanes WHERE wake_at <= ? ORDER BY wake_at LIMIT ?",
      now,
      LANES_PER_LOOK,
    );
    for (const { key, state } of [...rows]) this.turn(key, JSON.parse(state) as LaneState, meta, now, false);
    this.saveMeta(meta);
  }

  /**
   * Sends what the calls before handed out, without waiting for it. Lanes whose next delivery is
   * numbered above what the shard is known to have fanned out wait for a look at the shard: a
   * lower-numbered event may still be on its way to them; what may go then goes, the others look
   * again a little later. A delivery whose dispatch is lost is left to the lease.
   */
  async flush(): Promise<void> {
    this.dispatchHandedOut();
    const meta = this.meta();
    const blocked = [...this.blocked];
    this.blocked.clear();
    if (blocked.length === 0 || !meta.organizationId) return;
    const below = await this.fannedOutBelow(meta.organizationId);
    const fresh = this.meta();
    fresh.fannedOutBelow = Math.max(fresh.fannedOutBelow, below);
    const now = Date.now();
    for (const key of blocked) {
      const lane = this.lane(key);
      if (lane) this.turn(key, lane, fresh, now, false);
    }
    this.saveMeta(fresh);
    for (const key of this.blocked) {
      this.sql.exec("UPDATE ordered_lanes SET wake_at = ? WHERE key = ?", now + FAN_OUT_RECHECK_MS, key);
    }
    this.blocked.clear();
    this.dispatchHandedOut();
  }

  /** The earliest moment a lane needs a look; null: none does until something arrives. */
  wakeAt(): number | null {
    const row = [...this.sql.exec<{ at: number | null }>("SELECT MIN(wake_at) AS at FROM ordered_lanes")][0];
    return row?.at ?? null;
  }

  /** The lanes that hold deliveries, in key order, after `after` (null: from the first). */
  lanes(after: string | null, limit: number): LaneSummary[] {
    const rows = this.sql.exec<{ key: string; state: string }>(
      "SELECT key, state FROM ordered_lanes WHERE ?1 IS NULL OR key > ?1 ORDER BY key LIMIT ?2",
      after,
      limit,
    );
    return [...rows].map(({ key, state }) => {
      const lane = JSON.parse(state) as LaneState;
      const entries = waiting(lane);
      return { lane: key, length: entries.length, head: entries[0] ?? null, held: lane.held };
    });
  }

  /** A lane's deliveries in the order they will be sent, the first `limit`; null: the lane is empty. */
  queue(key: string, limit: number): { entries: LaneEntry[]; length: number; held: boolean } | null {
    const lane = this.lane(key);
    if (!lane) return null;
    const entries = waiting(lane);
    return { entries: entries.slice(0, limit), length: entries.length, held: lane.held };
  }

  /** Where a delivery waits, if a lane holds it. A scan over the lanes: an API read, not the hot path. */
  placeOf(deliveryId: DeliveryId): LanePlace | null {
    const rows = this.sql.exec<{ key: string; state: string }>(
      "SELECT key, state FROM ordered_lanes WHERE instr(state, ?) > 0",
      deliveryId,
    );
    for (const { key, state } of rows) {
      const lane = JSON.parse(state) as LaneState;
      const position = positionOf(lane, deliveryId);
      const entry = position === null ? undefined : waiting(lane)[position];
      if (entry) return { lane: key, sequence: entry.sequence, position: entry.position };
    }
    return null;
  }

  /**
   * A lane as a call left it (`changed`: by the call, else as stored): its next delivery handed out if
   * its turn has come and no lower-numbered event may still be on its way (else the lane is `blocked`,
   * for flush), and the lane written once, if it changed: each write of a lane is a row written.
   */
  private turn(key: string, lane: LaneState, meta: Meta, now: number, changed: boolean): void {
    const first = lane.head ? undefined : lane.queued[0];
    if (!meta.held && meta.organizationId && first && first.sequence > meta.fannedOutBelow) {
      this.blocked.add(key);
      if (changed) this.save(key, lane, now, meta);
      return;
    }
    const { lane: after, step } = meta.held ? { lane, step: null } : next(lane, now, meta.leaseMs);
    if (changed || after !== lane) this.save(key, after, now, meta);
    if (step?.kind === "attempt") this.handedOut.push(messageOf(meta, key, step));
  }

  private dispatchHandedOut(): void {
    const messages = this.handedOut.splice(0);
    if (messages.length > 0) this.dispatch(messages);
  }

  private async fannedOutBelow(organizationId: OrganizationId): Promise<number> {
    try {
      return await fannedOutBelow(await dataOf(this.env, organizationId), organizationId);
    } catch (error) {
      console.error(JSON.stringify({ message: "ordered lanes: fan-out state unread", error: String(error) }));
      return 0;
    }
  }

  private lane(key: string): LaneState | null {
    const row = [
      ...this.sql.exec<{ state: string }>("SELECT state FROM ordered_lanes WHERE key = ?", key),
    ][0];
    return row ? (JSON.parse(row.state) as LaneState) : null;
  }

  /** Writes a lane, or deletes it once empty (its tokens live on in the object's `lastToken`). */
  private save(key: string, lane: LaneState, now: number, meta: Meta): void {
    meta.lastToken = Math.max(meta.lastToken, lane.lastToken);
    if (!lane.head && lane.queued.length === 0) {
      this.sql.exec("DELETE FROM ordered_lanes WHERE key = ?", key);
      return;
    }
    this.sql.exec(
      "INSERT OR REPLACE INTO ordered_lanes (key, state, wake_at) VALUES (?, ?, ?)",
      key,
      JSON.stringify(lane),
      wakeAt(lane, now),
    );
  }

  private meta(): Meta {
    const row = [...this.sql.exec<{ meta: string }>("SELECT meta FROM ordered_meta WHERE id = 1")][0];
    this.metaRow = row?.meta ?? null;
    return row ? { ...DEFAULT_META, ...(JSON.parse(row.meta) as Partial<Meta>) } : { ...DEFAULT_META };
  }

  private saveMeta(meta: Meta): void {
    const row = JSON.stringify(meta);
    if (row === this.metaRow) return;
    this.sql.exec("INSERT OR REPLACE INTO ordered_meta (id, meta) VALUES (1, ?)", row);
    this.metaRow = row;
  }
}

/** The message that sends a handed-out delivery: the consumer reads its row, or its event for a first attempt. */
function messageOf(meta: Meta, lane: string, step: Handout): DeliveryMessage {
  return {
    organizationId: meta.organizationId as OrganizationId,
    endpointId: meta.endpointId as EndpointId,
    deliveryId: step.deliveryId,
    eventId: step.event.id,
    first: { eventType: step.event.type },
    ordered: { lane, token: step.token },
  };
}
