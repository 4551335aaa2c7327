/**
 * How many of an organization's events an isolate delivers directly (direct.ts): while it publishes
 * sparsely, each of its events has its first attempts made from the publish's own invocation; once
 * it publishes faster, its next events are batched through `webhook-events`, where a batch of a
 * hundred shares what a direct fan-out pays alone (a health-object call per endpoint, D1 reads, a log
 * line) and the batch wait is small next to the backlog its rate makes. "Sparsely": fewer than
 * DIRECT_PER_SECOND direct fan-outs of the organization started in the last second, and fewer than
 * DIRECT_RUNNING still running (a slow receiver holds its fan-outs open). Counted per isolate, so it bounds the
 * extra cost per isolate rather than exactly per organization.
 */
export const DIRECT_PER_SECOND = 10;
export const DIRECT_RUNNING = 2;

/**
 * How long Workers let `waitUntil` work run after the answer: a fan-out started longer ago than that
 * was cut off without ending, and no longer counts as running.
 */
const WAIT_UNTIL_MS = 30_000;

const SECOND_MS = 1000;

type Started = { at: number; running: boolean };

/** Past this many organizations counted, a start first forgets those with nothing left to count. */
const FORGET_AT = 1_000;

/** One isolate's count of direct fan-outs, by organization; `now` is the caller's clock. */
export function directPace() {
  const byOrganization = new Map<string, Started[]>();

  const live = (organizationId: string, now: number) => {
    const kept = (byOrganization.get(organizationId) ?? []).filter(
      (s) => now - s.at < SECOND_MS || (s.running && now - s.at < WAIT_UNTIL_MS),
    );
    if (kept.length > 0) byOrganization.set(organizationId, kept);
    else byOrganization.delete(organizationId);
    return kept;
  };

  return {
    /** Whether the organization's next event may be delivered directly. */
    mayStart(organizationId: string, now: number): boolean {
      const started = live(organizationId, now);
      return (
        started.filter((s) => now - s.at < SECOND_MS).length < DIRECT_PER_SECOND &&
        started.filter((s) => s.running).length < DIRECT_RUNNING
      );
    },
    /** Counts a direct fan-out started at `now`; returns what to call when it ends. */
    start(organizationId: string, now: number): () => void {
      // Organizations seen once and never again would stay counted for the isolate's life.
      if (byOrganization.size >= FORGET_AT) for (const id of [...byOrganization.keys()]) live(id, now);
      const started: Started = { at: now, running: true };
      byOrganization.set(organizationId, [...live(organizationId, now), started]);
      return () => {
        started.running = false;
      };
    },
    /** How many organizations are counted now. */
    tracked: () => byOrganization.size,
  };
}
