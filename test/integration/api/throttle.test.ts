import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { blockPermits } from "../../../src/api/throttle";

/** The real local limiter, counting the calls made to it. */
function countedLimiter(limiter: RateLimit) {
  const counted = {
    calls: 0,
    limit(options: RateLimitOptions) {
      counted.calls++;
      return limiter.limit(options);
    },
  };
  return counted;
}

/** A limiter that grants or refuses as `answer` says. */
function scriptedLimiter() {
  const scripted = {
    answer: true,
    calls: 0,
    async limit() {
      scripted.calls++;
      return { success: scripted.answer };
    },
  };
  return scripted;
}

describe("blockPermits", () => {
  it("calls the limiter once per block for requests one after another", async () => {
    const limiter = countedLimiter(env.ADMIN_API_RATE_LIMITER);
    const take = blockPermits("blocks-sequential", 10, 10_000);
    for (let i = 0; i < 25; i++) expect(await take(limiter)).toBe(true);
    expect(limiter.calls).toBe(3);
  });

  it("lets requests at once each take a block, and spends what they leave on the requests after them", async () => {
    const limiter = countedLimiter(env.ADMIN_API_RATE_LIMITER);
    const take = blockPermits("blocks-concurrent", 10, 10_000);
    const granted = await Promise.all(Array.from({ length: 5 }, () => take(limiter)));
    expect(granted).toEqual([true, true, true, true, true]);
    expect(limiter.calls).toBe(5);
    for (let i = 0; i < 45; i++) expect(await take(limiter)).toBe(true);
    expect(limiter.calls).toBe(5);
    expect(await take(limiter)).toBe(true);
    expect(limiter.calls).toBe(6);
  });

  it("refuses the request whose block was refused, and asks again for the next", async () => {
    const limiter = scriptedLimiter();
    const take = blockPermits("blocks-refused", 10, 10_000);
    limiter.answer = false;
    expect(await Promise.all([take(limiter), take(limiter)])).toEqual([false, false]);
    expect(limiter.calls).toBe(2);
    limiter.answer = true;
    expect(await take(limiter)).toBe(true);
    expect(await take(limiter)).toBe(true);
    expect(limiter.calls).toBe(3);
  });

  it("does not spend a block's permits after its period", async () => {
    const limiter = scriptedLimiter();
    const take = blockPermits("blocks-expiring", 10, 10_000);
    let now = 1_000_000;
    const clock = () => now;
    expect(await take(limiter, clock)).toBe(true);
    now += 9_999;
    expect(await take(limiter, clock)).toBe(true);
    expect(limiter.calls).toBe(1);
    now += 1;
    limiter.answer = false;
    expect(await take(limiter, clock)).toBe(false);
    expect(limiter.calls).toBe(2);
  });
});
