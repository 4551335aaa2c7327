import { describe, expect, it } from "vitest";
import { concurrencyLimit } from "../../../src/lib/limit";

describe("concurrencyLimit", () => {
  it("runs at most `max` at once, the rest in order, and passes results and errors through", async () => {
    const gate = concurrencyLimit(2);
    let active = 0;
    let most = 0;
    const started: number[] = [];
    const task = (i: number) =>
      gate(async () => {
        started.push(i);
        active++;
        most = Math.max(most, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        if (i === 3) throw new Error("task 3");
        return i * 10;
      });
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map(task));
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : String(r.reason)))).toEqual([
      0,
      10,
      20,
      "Error: task 3",
      40,
    ]);
  });
});
