/**
 * A token bucket per endpoint: `ratePerSecond` permits a second, bursts up to one second's worth.
 * Pure; the EndpointHealth object keeps the bucket and hands permits to each consumer batch.
 */
export type Bucket = { tokens: number; updatedAt: number };

export type Permits = {
  bucket: Bucket;
  granted: number;
  /** When the next permit will be available, in ms from now (0 if some are left). */
  nextPermitInMs: number;
};

export function takePermits(
  bucket: Bucket | null,
  requested: number,
  ratePerSecond: number,
  now: number,
): Permits {
  const capacity = ratePerSecond;
  const elapsed = bucket ? Math.max(0, now - bucket.updatedAt) : Number.POSITIVE_INFINITY;
  const available = Math.min(capacity, (bucket?.tokens ?? capacity) + (elapsed * ratePerSecond) / 1000);
  const granted = Math.max(0, Math.min(requested, Math.floor(available)));
  const tokens = available - granted;
  const nextPermitInMs = tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 1000) / ratePerSecond);
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
