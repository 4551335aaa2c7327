/**
 * Which of an organization's events an isolate delivers directly (direct.ts): only while the
 * organization publishes sparsely. A direct fan-out pays alone what a batch of a hundred shares (a
 * health-object call per endpoint, D1 reads, a log line); that pays for a sparse publisher, whose
 * events would otherwise wait a batch each, and not for a busy one, whose rate fills batches at once
 * and makes the batch wait small next to its backlog. "Sparsely": fewer than SPARSE_PER_SECOND of its
 * events published in the last second (direct or not: a publisher that keeps up its rate keeps all its
 * events batched, not ten a second of them direct), and fewer than DIRECT_RUNNING of its direct fan-outs
 * still running (a slow receiver holds them open). Counted per isolate, so it bounds the extra cost
 * per isolate rather than exactly per organization.
 */
export const SPARSE_PER_SECOND = 10;
export const DIRECT_RUNNING = 2;

/**
 * How long Workers let `waitUntil` work run after the answer: a fan-out started longer ago than that
 * was cut off without ending, and no longer counts as running.
 */
const WAIT_UNTIL_MS = 30_000;

const SECOND_MS = 1000;

type Counts = {
  /** When its latest events were published, at most SPARSE_PER_SECOND of them, oldest first. */
  published: number[];
  /** When its direct fan-outs still running started. */
  running: Set<{ at: number }>;
};

/** Past this many organizations counted, a publish first forgets those with nothing left to count. */
const FORGET_AT = 1_000;

/** One isolate's count of publishes and direct fan-outs, by organization; `now` is the caller's clock. */
export function directPace() {
  const byOrganization = new Map<string, Counts>();

  /** The organization's counts as of `now`, or undefined once nothing is left to count. */
  const live = (organizationId: string, now: number): Counts | undefined => {
    const counts = byOrganization.get(organizationId);
    if (!counts) return undefined;
    for (const run of counts.running) if (now - run.at >= WAIT_UNTIL_MS) counts.running.delete(run);
    if (counts.running.size > 0 || counts.published.some((at) => now - at < SECOND_MS)) return counts;
    byOrganization.delete(organizationId);
    return undefined;
  };

  return {
    /** Counts one published event of the organization; says whether it may be delivered directly. */
    offer(organizationId: string, now: number): boolean {
      // Organizations seen once and never again would stay counted for the isolate's life.
      if (byOrganization.size >= FORGET_AT) for (const id of [...byOrganization.keys()]) live(id, now);
      const counts = live(organizationId, now) ?? { published: [], running: new Set() };
      byOrganization.set(organizationId, counts);
      const sparse =
        counts.published.filter((at) => now - at < SECOND_MS).length < SPARSE_PER_SECOND &&
        counts.running.size < DIRECT_RUNNING;
      counts.published = [...counts.published, now].slice(-SPARSE_PER_SECOND);
      return sparse;
    },
    /** Counts a direct fan-out started at `now`; returns what to call when it ends. */
    start(organizationId: string, now: number): () => void {
      const counts = live(organizationId, now) ?? { published: [], running: new Set() };
      byOrganization.set(organizationId, counts);
      const run = { at: now };
      counts.running.add(run);
      return () => {
        counts.running.delete(run);
      };
    },
    /** How many organizations are counted now. */
    tracked: () => byOrganization.size,
  };
}
