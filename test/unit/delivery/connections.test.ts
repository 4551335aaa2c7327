import { describe, expect, it } from "vitest";
import { connectionGate } from "../../../src/delivery/connections";

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("connectionGate", () => {
  it("keeps at most `max` sends open, starts waiting first attempts in order, and passes results and errors through", async () => {
    const gate = connectionGate(Date.now() + 60_000, 2);
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
    const gate = connectionGate(Date.now() + 60_000, 1);
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
    const gate = connectionGate(Date.now() + 20, 1);
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
});
