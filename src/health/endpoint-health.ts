import { DurableObject, exports } from "cloudflare:workers";
import { getConfig } from "../config";
import type { DisabledReason } from "../domain/endpoint";
import type { DeliveryId, EndpointId, OrganizationId } from "../lib/ids";
import type { Enqueued, LaneEntry } from "../ordering/lane";
import {
  type LanePlace,
  type LaneReport,
  type LaneSummary,
  type OrderedItem,
  OrderedLanes,
} from "../ordering/ordered-lanes";
import { applyAutoDisable, warnFailing } from "./auto-disable";
import {
  type AttemptOutcome,
  evaluate,
  type FailingWarning,
  HEALTHY,
  type HealthState,
  type HealthSummary,
  nextCheckAt,
  recordOutcomes,
  resetStreak,
  summarize,
} from "./policy";
import { type Bucket, type Granted, perHour, perSecond, type Rate, takePermits } from "./rate-limit";

const KEYS = {
  state: "state",
  bucket: "bucket",
  replayBucket: "replayBucket",
  endpointId: "endpointId",
  /** When the health rules next need a look (policy.ts nextCheckAt); null: not until an attempt. */
  healthCheckAt: "healthCheckAt",
} as const;

/** What the policy decided, carried out after the object's exclusive section. */
type Decision = { disable?: DisabledReason; warn?: FailingWarning };

/**
 * One per endpoint (named by its id): the only owner of its failure streak and permit buckets.
 * The delivery consumer asks it for permits and reports outcomes once per batch; it decides
 * auto-disable and carries it out. An alarm set for the moment the streak will have lasted long
 * enough re-checks then, so no polling is needed.
 *
 * Every read-modify-write of its state runs inside `blockConcurrencyWhile`: runs of several
 * invocations report to the same object at once, and the input gate alone let two reports read the
 * same state and the second write lose the first's outcomes (seen in CI: 19 of 20 attempts counted),
 * or two permit requests share one permit. Carrying out a disable (D1 writes, a publish) happens after,
 * outside it, so the object is held only for its own storage.
 */
export class EndpointHealth extends DurableObject<Env> {
  /**
   * The endpoint's ordered lanes (src/ordering/), sharing the object's storage and its one alarm. Their
   * deliveries go to the Worker's OrderedDelivery entrypoint, a run of their own that this object does
   * not wait for (delivery/ordered-entrypoint.ts).
   */
  private readonly ordered = new OrderedLanes(this.ctx.storage.sql, this.env, (messages) =>
    this.ctx.waitUntil(
      exports.OrderedDelivery.deliver(messages).catch((error: unknown) =>
        console.error(JSON.stringify({ message: "ordered deliveries not dispatched", error: String(error) })),
      ),
    ),
  );

  private async load(): Promise<HealthState> {
    return (await this.ctx.storage.get<HealthState>(KEYS.state)) ?? HEALTHY;
  }

  /** `change` alone, with no other call of this object interleaved. */
  private exclusive<T>(change: () => Promise<T>): Promise<T> {
    return this.ctx.blockConcurrencyWhile(change);
  }

  async record(endpointId: EndpointId, outcomes: AttemptOutcome[]): Promise<void> {
    const decision = await this.exclusive(async () => {
      // Kept for the alarm, which is not told whose object it runs in; written once, not per batch.
      if ((await this.ctx.storage.get<EndpointId>(KEYS.endpointId)) !== endpointId) {
        await this.ctx.storage.put(KEYS.endpointId, endpointId);
      }
      return this.decide(recordOutcomes(await this.load(), outcomes));
    });
    await this.carryOut(endpointId, decision);
  }

  /** The health rules when their time has come, then the ordered lanes that are due. */
  override async alarm(): Promise<void> {
    const endpointId = await this.ctx.storage.get<EndpointId>(KEYS.endpointId);
    const checkAt = await this.ctx.storage.get<number | null>(KEYS.healthCheckAt);
    // An alarm set before ordered lanes shared it left no time: it was the health rules'.
    if (endpointId && (checkAt === undefined || (checkAt !== null && checkAt <= Date.now()))) {
      await this.carryOut(endpointId, await this.exclusive(async () => this.decide(await this.load())));
    }
    this.ordered.due(Date.now());
    await this.ordered.flush();
    await this.scheduleAlarm();
  }

  /** Writes the state as the policy leaves it and when it next needs a look; says what to do now. */
  private async decide(recorded: HealthState): Promise<Decision> {
    const policy = getConfig(this.env);
    const now = Date.now();
    const { state, disable, warn } = evaluate(recorded, now, policy);
    await this.ctx.storage.put(KEYS.state, state);
    // Each put is a row written: the time is written when it changes, not with every report.
    const checkAt = nextCheckAt(state, policy, now);
    if ((await this.ctx.storage.get<number | null>(KEYS.healthCheckAt)) !== checkAt) {
      await this.ctx.storage.put(KEYS.healthCheckAt, checkAt);
    }
    // A disabled endpoint holds its ordered lanes until it is enabled again (reset).
    if (disable) this.ordered.hold();
    await this.scheduleAlarm();
    return { disable, warn };
  }

  /**
   * The object's one alarm, at the earlier of the health rules' next look and the lanes'; set or
   * deleted only when that moment changes (each is a row written).
   */
  private async scheduleAlarm(): Promise<void> {
    const checkAt = (await this.ctx.storage.get<number | null>(KEYS.healthCheckAt)) ?? null;
    const times = [checkAt, this.ordered.wakeAt()].filter((t): t is number => t !== null);
    const at = times.length === 0 ? null : Math.min(...times);
    if ((await this.ctx.storage.getAlarm()) === at) return;
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  /** Outside the object's exclusive section: D1 writes and a publish. */
  private async carryOut(endpointId: EndpointId, { disable, warn }: Decision): Promise<void> {
    if (disable) await applyAutoDisable(this.env, endpointId, disable);
    else if (warn) await warnFailing(this.env, endpointId, warn);
  }

  /** The endpoint was re-enabled by its owner: a fresh streak, and its ordered lanes go on. */
  async reset(): Promise<void> {
    await this.exclusive(async () => {
      await this.ctx.storage.put(KEYS.state, resetStreak(await this.load()));
      await this.ctx.storage.put(KEYS.healthCheckAt, null);
      this.ordered.release(Date.now());
    });
    await this.ordered.flush();
    await this.scheduleAlarm();
  }

  /** The endpoint was disabled by its owner: its ordered lanes hold. */
  async holdOrdered(): Promise<void> {
    this.ordered.hold();
    await this.scheduleAlarm();
  }

  /**
   * Fan-out's deliveries for the endpoint's ordered lanes (delivery/fan-out.ts), each answered in
   * order; those whose turn has come are sent before this returns.
   */
  async enqueueOrdered(
    owner: { organizationId: OrganizationId; endpointId: EndpointId; leaseMs: number },
    items: OrderedItem[],
  ): Promise<Enqueued[]> {
    const results = this.ordered.enqueue(owner, items, Date.now());
    await this.ordered.flush();
    await this.scheduleAlarm();
    return results;
  }

  /** A run's reports of the ordered deliveries it was given (delivery/run.ts); the next ones go. */
  async reportOrdered(reports: LaneReport[]): Promise<void> {
    this.ordered.report(reports, Date.now());
    await this.ordered.flush();
    await this.scheduleAlarm();
  }

  async orderedLanes(after: string | null, limit: number): Promise<LaneSummary[]> {
    return this.ordered.lanes(after, limit);
  }

  async orderedQueue(
    lane: string,
    limit: number,
  ): Promise<{ entries: LaneEntry[]; length: number; held: boolean } | null> {
    return this.ordered.queue(lane, limit);
  }

  async orderedPlace(deliveryId: DeliveryId): Promise<LanePlace | null> {
    return this.ordered.placeOf(deliveryId);
  }

  async summary(): Promise<HealthSummary> {
    return summarize(await this.load(), Date.now());
  }

  /** Up to `requested` delivery permits under `ratePerSecond`, and when the next one frees up. */
  async acquire(requested: number, ratePerSecond: number): Promise<Granted> {
    return this.take(KEYS.bucket, requested, perSecond(ratePerSecond));
  }

  /**
   * Up to `requested` permits of the endpoint's replay quota, `replaysPerHour` deliveries replayed
   * per hour by replay and recover together, and when the next one frees up.
   */
  async acquireReplays(requested: number, replaysPerHour: number): Promise<Granted> {
    return this.take(KEYS.replayBucket, requested, perHour(replaysPerHour));
  }

  private take(key: string, requested: number, rate: Rate): Promise<Granted> {
    return this.exclusive(async () => {
      const bucket = (await this.ctx.storage.get<Bucket>(key)) ?? null;
      const permits = takePermits(bucket, requested, rate, Date.now());
      await this.ctx.storage.put(key, permits.bucket);
      return { granted: permits.granted, nextPermitInMs: permits.nextPermitInMs };
    });
  }
}

export function endpointHealth(env: Env, endpointId: EndpointId): DurableObjectStub<EndpointHealth> {
  return env.ENDPOINT_HEALTH.get(env.ENDPOINT_HEALTH.idFromName(endpointId));
}
