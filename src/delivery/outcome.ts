import type { EventId } from "../lib/ids";
import type { AttemptsMade } from "./attempt";
import type { Job } from "./job";

/**
 * What became of a job in a run, as every stage after the attempt reads it: the record turns it into
 * D1 statements (record.ts), the run answers its message or its event (run.ts).
 */
export type Settled = Job &
  (
    | { kind: "attempted"; made: AttemptsMade }
    /** Ended without an attempt: endpoint deleted or disabled, event expired, secret unreadable. */
    | { kind: "ended"; reason: string }
    /** Rate-limited: put off to a new message, nothing spent. */
    | { kind: "deferred"; delaySeconds: number }
    /** Not started within the run's time: a new message at once, nothing spent. */
    | { kind: "handed-on" }
    /** A delivery of an ordered lane to a disabled endpoint: it keeps its place, the lane holds. */
    | { kind: "held" }
    /** The run failed for it: it goes round again whole. */
    | { kind: "crashed"; error: string }
  );

/** Events some of whose first attempts a run could not settle, each with what went wrong. */
export type UnsettledEvents = Map<EventId, string>;
