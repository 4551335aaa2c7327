import { describe, expect, it } from "vitest";
import { DIRECT_PER_SECOND, DIRECT_RUNNING, directPace } from "../../../src/delivery/direct-pace";

describe("directPace", () => {
  it("lets an organization start DIRECT_PER_SECOND direct fan-outs a second, then again a second later", () => {
    const pace = directPace();
    for (let i = 0; i < DIRECT_PER_SECOND; i++) {
      expect(pace.mayStart("org_a", 1_000 + i)).toBe(true);
      pace.start("org_a", 1_000 + i)(); // each ends at once
    }
    expect(pace.mayStart("org_a", 1_500)).toBe(false);
    expect(pace.mayStart("org_b", 1_500)).toBe(true); // another organization is counted apart
    expect(pace.mayStart("org_a", 2_000)).toBe(true); // the first has left the last second
  });

  it("holds an organization to DIRECT_RUNNING fan-outs running at once, until one ends", () => {
    const pace = directPace();
    const ends = Array.from({ length: DIRECT_RUNNING }, (_, i) => pace.start("org_a", i * 2_000));
    const later = (DIRECT_RUNNING - 1) * 2_000 + 5_000;
    expect(pace.mayStart("org_a", later)).toBe(false);
    ends[0]?.();
    expect(pace.mayStart("org_a", later)).toBe(true);
  });

  it("stops counting a fan-out still running after the 30 s waitUntil allows: it was cut off", () => {
    const pace = directPace();
    for (let i = 0; i < DIRECT_RUNNING; i++) pace.start("org_a", 0); // never ended
    expect(pace.mayStart("org_a", 29_999)).toBe(false);
    expect(pace.mayStart("org_a", 30_000)).toBe(true);
  });

  it("forgets organizations with nothing left to count once it counts a thousand", () => {
    const pace = directPace();
    for (let i = 0; i < 1_000; i++) pace.start(`org_${i}`, 0)();
    expect(pace.tracked()).toBe(1_000);
    pace.start("org_new", 2_000);
    expect(pace.tracked()).toBe(1);
  });
});
