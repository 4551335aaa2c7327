import { describe, expect, it } from "vitest";
import { DIRECT_RUNNING, directPace, SPARSE_PER_SECOND } from "../../../src/delivery/direct-pace";

describe("directPace", () => {
  it("lets SPARSE_PER_SECOND events a second go direct, then batches the organization's next ones", () => {
    const pace = directPace();
    for (let i = 0; i < SPARSE_PER_SECOND; i++) {
      expect(pace.offer("org_a", 1_000 + i)).toBe(true);
      pace.start("org_a", 1_000 + i)(); // each ends at once
    }
    expect(pace.offer("org_a", 1_500)).toBe(false);
    expect(pace.offer("org_b", 1_500)).toBe(true); // another organization is counted apart
    expect(pace.offer("org_a", 2_600)).toBe(true); // a second without SPARSE_PER_SECOND publishes
  });

  it("keeps a publisher that keeps its rate up batched, not SPARSE_PER_SECOND of its events a second direct", () => {
    const pace = directPace();
    // Twenty events a second for five seconds: only the first ones go direct.
    const direct = Array.from({ length: 100 }, (_, i) => pace.offer("org_a", i * 50)).filter(Boolean);
    expect(direct).toHaveLength(SPARSE_PER_SECOND);
  });

  it("holds an organization to DIRECT_RUNNING fan-outs running at once, until one ends", () => {
    const pace = directPace();
    const ends = Array.from({ length: DIRECT_RUNNING }, (_, i) => pace.start("org_a", i * 2_000));
    const later = (DIRECT_RUNNING - 1) * 2_000 + 5_000;
    expect(pace.offer("org_a", later)).toBe(false);
    ends[0]?.();
    expect(pace.offer("org_a", later + 2_000)).toBe(true);
  });

  it("stops counting a fan-out still running after the 30 s waitUntil allows: it was cut off", () => {
    const pace = directPace();
    for (let i = 0; i < DIRECT_RUNNING; i++) pace.start("org_a", 0); // never ended
    expect(pace.offer("org_a", 29_999)).toBe(false);
    expect(pace.offer("org_a", 30_000)).toBe(true);
  });

  it("forgets organizations with nothing left to count once it counts a thousand", () => {
    const pace = directPace();
    for (let i = 0; i < 1_000; i++) pace.offer(`org_${i}`, 0);
    expect(pace.tracked()).toBe(1_000);
    pace.offer("org_new", 2_000);
    expect(pace.tracked()).toBe(1);
  });
});
