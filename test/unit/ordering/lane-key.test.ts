import { describe, expect, it } from "vitest";
import { laneKeyOf } from "../../../src/ordering/lane-key";

describe("the lane an event waits in", () => {
  const resources = { matter: "matter_1", vault: "vault_9" };

  it("is the endpoint's one lane with ordering endpoint, whatever the event says", () => {
    expect(laneKeyOf("endpoint", { order: { sequence: 1, key: "k" }, resources })).toBe("");
  });

  it("is the ordering key, else the first resource id, else the endpoint's lane, with ordering key", () => {
    expect(laneKeyOf("key", { order: { sequence: 1, key: "k" }, resources })).toBe("k");
    expect(laneKeyOf("key", { order: { sequence: 1, key: null }, resources })).toBe("matter_1");
    expect(laneKeyOf("key", { order: { sequence: 1, key: null }, resources: {} })).toBe("");
  });
});
