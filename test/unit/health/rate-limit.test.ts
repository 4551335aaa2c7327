import { describe, expect, it } from "vitest";
import { deferralDelaySeconds, perHour, perSecond, takePermits } from "../../../src/health/rate-limit";

describe("token bucket", () => {
  it("grants a burst of one second's worth, then refills at the rate", () => {
    const first = takePermits(null, 10, perSecond(2), 0);
    expect(first.granted).toBe(2);
    expect(first.nextPermitInMs).toBe(500);
    expect(takePermits(first.bucket, 10, perSecond(2), 400).granted).toBe(0);
    const later = takePermits(first.bucket, 10, perSecond(2), 500);
    expect(later.granted).toBe(1);
    expect(takePermits(later.bucket, 10, perSecond(2), 10_000).granted).toBe(2); // never more than the burst
  });

  it("grants only what is asked", () => {
    const { granted, bucket, nextPermitInMs } = takePermits(null, 1, perSecond(5), 0);
    expect(granted).toBe(1);
    expect(bucket.tokens).toBe(4);
    expect(nextPermitInMs).toBe(0);
  });

  it("keeps an hourly quota the same way: a burst of the hour's permits, then one every 3600/n seconds", () => {
    const spent = takePermits(null, 5_000, perHour(1_000), 0);
    expect(spent.granted).toBe(1_000);
    expect(spent.nextPermitInMs).toBe(3_600);
    expect(takePermits(spent.bucket, 5, perHour(1_000), 3_599).granted).toBe(0);
    const refilled = takePermits(spent.bucket, 20, perHour(1_000), 36_000);
    expect(refilled.granted).toBe(10);
    expect(refilled.nextPermitInMs).toBe(3_600);
    expect(takePermits(refilled.bucket, 5_000, perHour(1_000), 36_000 + 7_200_000).granted).toBe(1_000);
  });

  it("spreads deferred deliveries one permit interval apart, in whole seconds", () => {
    expect([0, 1, 2, 3, 4, 5].map((i) => deferralDelaySeconds(i, 500, 2))).toEqual([1, 1, 2, 2, 3, 3]);
    expect(deferralDelaySeconds(0, 0, 100)).toBe(1);
  });
});
