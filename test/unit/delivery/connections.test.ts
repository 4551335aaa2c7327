import { describe, expect, it } from "vitest";
import { connectionGate } from "../../../src/delivery/connections";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("connectionGate", () => {
  it("keeps at most `max` sends open, starts waiting first attempts in order, and passes results and errors through", async () => {
    const gate = connectionGate(Date.now() + 60_000, ["A"], 2).of("A");
    let open = 0;
    let most = 0;
    const started: number[] = [];
    const send = (i: number) =>
      gate.first(async () => {
        started.push(i);
        open++;
        most = Math.max(most, open);
        await tick(5);
        open--;
        if (i === 3) throw new Error("send 3");
        return i * 10;
      });
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map(send));
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : String(r.reason)))).toEqual([
      0,
      10,
      20,
      "Error: send 3",
      40,
    ]);
  });

  it("lets an inline retry go before the first attempts waiting", async () => {
    const gate = connectionGate(Date.now() + 60_000, ["A"], 1).of("A");
    const started: string[] = [];
    const send = (name: string) => async () => {
      started.push(name);
      await tick(5);
      return name;
    };
    const running = gate.first(send("a"));
    const waiting = [gate.first(send("b")), gate.first(send("c"))];
    await tick(1);
    const retry = gate.retry(send("a, again"));
    await Promise.all([running, retry, ...waiting]);
    expect(started).toEqual(["a", "a, again", "b", "c"]);
  });

  it("declines a first attempt no connection came free for before the deadline, never a retry", async () => {
    const gate = connectionGate(Date.now() + 20, ["A"], 1).of("A");
    const slow = gate.first(async () => {
      await tick(40);
      return "slow";
    });
    const late = gate.first(async () => "late");
    const retry = gate.retry(async () => "retry");
    expect(await Promise.all([slow, late, retry])).toEqual(["slow", null, "retry"]);
    // The declined attempt gave its turn back: the gate is free again.
    expect(await gate.retry(async () => "after")).toBe("after");
  });

  it("gives an endpoint its share only while others attempt: a slow receiver's queue holds no one else up", async () => {
    const gate = connectionGate(Date.now() + 60_000, ["slow", "fast"], 6);
    const started: string[] = [];
    const hold = Promise.withResolvers<void>();
    const slow = gate.of("slow");
    // The slow endpoint asks first, for ten connections, and holds each until released.
    const slowSends = Array.from({ length: 10 }, (_, i) =>
      slow.first(async () => {
        started.push(`slow ${i}`);
        await hold.promise;
      }),
    );
    await tick(1);
    // It holds three, its share of six among two endpoints; the fast one starts at once.
    expect(started).toEqual(["slow 0", "slow 1", "slow 2"]);
    await gate.of("fast").first(async () => started.push("fast"));
    expect(started).toContain("fast");
    // Once the fast endpoint is done, the slow one may use all six.
    gate.done("fast");
    await tick(1);
    expect(started.filter((s) => s.startsWith("slow"))).toHaveLength(6);
    hold.resolve();
    await Promise.all(slowSends);
    expect(started.filter((s) => s.startsWith("slow"))).toHaveLength(10);
  });

  it("hands a free connection to the endpoint holding the fewest, inline retries first", async () => {
    const gate = connectionGate(Date.now() + 60_000, ["A", "B", "C"], 2);
    const started: string[] = [];
    const release = { A: Promise.withResolvers<void>(), B: Promise.withResolvers<void>() };
    const a = gate.of("A").first(async () => {
      started.push("A1");
      await release.A.promise;
    });
    const b = gate.of("B").first(async () => {
      started.push("B1");
      await release.B.promise;
    });
    await tick(1);
    // Both connections taken: C's first attempt and A's inline retry wait.
    const c = gate.of("C").first(async () => started.push("C1"));
    const retryA = gate.of("A").retry(async () => started.push("A retry"));
    const secondB = gate.of("B").first(async () => started.push("B2"));
    release.A.resolve();
    await a;
    await tick(1);
    // A's connection went to its retry; when that was done, to C, which held none, not to B, holding one.
    expect(started).toEqual(["A1", "B1", "A retry", "C1"]);
    release.B.resolve();
    await Promise.all([b, c, retryA, secondB]);
    expect(started.at(-1)).toBe("B2");
  });
});
