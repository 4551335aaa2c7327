import { describe, expect, it } from "vitest";
import { authFailureGate } from "../../../src/api/auth-failures";
import { ServiceError } from "../../../src/lib/errors";

/** A limiter that grants or refuses as `answer` says, counting the calls made to it. */
function scriptedLimiter() {
  const scripted = {
    answer: true,
    keys: [] as string[],
    async limit({ key }: { key: string }) {
      scripted.keys.push(key);
      return { success: scripted.answer };
    },
  };
  return scripted;
}

const refuse = async (): Promise<never> => {
  throw new ServiceError("unauthorized", "Invalid or revoked API key");
};

describe("authFailureGate", () => {
  it("counts only refused credentials, by address", async () => {
    const limiter = scriptedLimiter();
    const guard = authFailureGate();
    for (let i = 0; i < 50; i++) expect(await guard(limiter, "192.0.2.1", async () => "key")).toBe("key");
    expect(limiter.keys).toEqual([]);
    await expect(guard(limiter, "192.0.2.1", refuse)).rejects.toMatchObject({ status: 401 });
    // A throttled key, or any other refusal, is not a refused credential.
    const keyThrottled = async () => {
      throw new ServiceError("throttled", "Too many requests with this credential", undefined, 60);
    };
    await expect(guard(limiter, "192.0.2.1", keyThrottled)).rejects.toMatchObject({ status: 429 });
    expect(limiter.keys).toEqual(["192.0.2.1"]);
  });

  it("past the limit, refuses the address for one period without authenticating, and no other address", async () => {
    const limiter = scriptedLimiter();
    let now = 1_000_000;
    const guard = authFailureGate(() => now);
    let authenticated = 0;
    const good = async () => {
      authenticated++;
      return "key";
    };

    limiter.answer = false;
    await expect(guard(limiter, "192.0.2.1", refuse)).rejects.toMatchObject({
      status: 429,
      retryAfterSeconds: 10,
    });
    limiter.answer = true;
    now += 4_000;
    await expect(guard(limiter, "192.0.2.1", good)).rejects.toMatchObject({
      status: 429,
      retryAfterSeconds: 6,
    });
    await expect(guard(limiter, "192.0.2.1", refuse)).rejects.toMatchObject({ status: 429 });
    expect(authenticated).toBe(0);
    expect(limiter.keys).toEqual(["192.0.2.1"]);
    expect(await guard(limiter, "192.0.2.2", good)).toBe("key");

    now += 6_000;
    expect(await guard(limiter, "192.0.2.1", good)).toBe("key");
    expect(authenticated).toBe(2);
  });
});
