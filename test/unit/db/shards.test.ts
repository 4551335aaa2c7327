import { describe, expect, it } from "vitest";
import { shardForNewOrganization } from "../../../src/db/shards";

/** A draw that walks evenly over [0, 1), so each shard's share shows as a count. */
function shares(weights: number[], shardCount: number, draws = 1_000): number[] {
  const counts = Array<number>(shardCount).fill(0);
  for (let i = 0; i < draws; i++) {
    const shard = shardForNewOrganization(weights, shardCount, () => i / draws);
    counts[shard] = (counts[shard] ?? 0) + 1;
  }
  return counts;
}

describe("the shard of a new organization", () => {
  it("follows SHARD_WEIGHTS", () => {
    expect(shares([1, 1], 2)).toEqual([500, 500]);
    expect(shares([1, 3], 2)).toEqual([250, 750]);
    expect(shares([0, 1, 1], 3)).toEqual([0, 500, 500]);
  });

  it("gives a bound shard without a weight nothing, and ignores weights of shards not bound", () => {
    expect(shares([1], 3)).toEqual([1_000, 0, 0]);
    expect(shares([1, 1, 5], 2)).toEqual([500, 500]);
  });

  it("weighs every shard the same when no weight is set", () => {
    expect(shares([], 4)).toEqual([250, 250, 250, 250]);
  });

  it("refuses weights that leave no bound shard to choose", () => {
    expect(() => shardForNewOrganization([0, 0], 2)).toThrow(/SHARD_WEIGHTS/);
    expect(() => shardForNewOrganization([0, 0, 1], 2)).toThrow(/SHARD_WEIGHTS/);
  });

  it("never draws past the last shard with a weight, whatever the random number", () => {
    expect(shardForNewOrganization([1, 1, 0], 3, () => 0.999_999_999)).toBe(1);
  });
});
