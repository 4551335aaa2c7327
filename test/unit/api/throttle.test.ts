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

describe("blockPermits", () => {
  it("calls the limiter once per block, for requests one after another and for requests at once", async () => {
    const limiter = countedLimiter(env.ADMIN_API_RATE_LIMITER);
    const sequential = blockPermits("blocks-sequential", 10);
    for (let i = 0; i < 25; i++) expect(await sequential(limiter)).toBe(true);
    expect(limiter.calls).toBe(3);

    limiter.calls = 0;
    const concurrent = blockPermits("blocks-concurrent", 10);
    const granted = await Promise.all(Array.from({ length: 25 }, () => concurrent(limiter)));
    expect(granted.every(Boolean)).toBe(true);
    expect(limiter.calls).toBe(3);
  });

  it("refuses every request waiting on a block the limiter refused, and asks again for the next", async () => {
    let answer = false;
    let calls = 0;
    const limiter = {
      async limit() {
        calls++;
        return { success: answer };
      },
    };
    const take = blockPermits("blocks-refused", 10);
    expect(await Promise.all([take(limiter), take(limiter), take(limiter)])).toEqual([false, false, false]);
    expect(calls).toBe(1);
    answer = true;
    expect(await take(limiter)).toBe(true);
    expect(calls).toBe(2);
  });
});
