/**
 * A token bucket per endpoint: `permits` every `periodMs`, refilled evenly, in bursts of up to one
 * period's worth. Pure; the EndpointHealth object keeps the buckets: one for `rateLimitPerSecond`
 * (permits a second for each consumer batch's deliveries), one for the replay quota (permits an hour
 * for replay and recover together).
 */
export type Bucket = { tokens: number; updatedAt: number };

export type Rate = { permits: number; periodMs: number };

export type Permits = {
  bucket: Bucket;
  granted: number;
  /** When the next permit will be available, in ms from now (0 if some are left). */
  nextPermitInMs: number;
};

/** What a caller of the bucket learns: how many permits it got, and when the next one frees up. */
export type Granted = Omit<Permits, "bucket">;

export const perSecond = (permits: number): Rate => ({ permits, periodMs: 1_000 });
export const perHour = (permits: number): Rate => ({ permits, periodMs: 3_600_000 });

export function takePermits(bucket: Bucket | null, requested: number, rate: Rate, now: number): Permits {
  const capacity = rate.permits;
  const refillPerMs = rate.permits / rate.periodMs;
  const elapsed = bucket ? Math.max(0, now - bucket.updatedAt) : Number.POSITIVE_INFINITY;
  const available = Math.min(capacity, (bucket?.tokens ?? capacity) + elapsed * refillPerMs);
  const granted = Math.max(0, Math.min(requested, Math.floor(available)));
  const tokens = available - granted;
  const nextPermitInMs = tokens >= 1 ? 0 : Math.ceil((1 - tokens) / refillPerMs);
  return { bucket: { tokens, updatedAt: now }, granted, nextPermitInMs };
}

/**
 * How long the `index`-th delivery refused a permit waits in the queue: spread one permit interval
 * apart after the next free permit, so deferred deliveries come back at the rate, not all at once.
 * Queues delays are whole seconds, at least one.
 */
export function deferralDelaySeconds(index: number, nextPermitInMs: number, ratePerSecond: number): number {
  return Math.max(1, Math.ceil((nextPermitInMs + (index * 1000) / ratePerSecond) / 1000));
}
