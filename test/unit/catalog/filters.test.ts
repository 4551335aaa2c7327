import { describe, expect, it } from "vitest";
import { eventTypes } from "../../../src/catalog";
import {
  EVENT_TYPE_FILTER_PATTERN,
  filterMatches,
  resourceScopesMatch,
  typesSelectedBy,
} from "../../../src/catalog/filters";

describe("event type filters", () => {
  it("matches exact types, prefix wildcards and *", () => {
    expect(filterMatches("vault.ingest.completed", "vault.ingest.completed")).toBe(true);
    expect(filterMatches("vault.ingest.completed", "vault.ingest.failed")).toBe(false);
    expect(filterMatches("vault.ingest.*", "vault.ingest.failed")).toBe(true);
    expect(filterMatches("vault.*", "vault.object.deleted")).toBe(true);
    expect(filterMatches("vault.*", "vaults.created")).toBe(false);
    expect(filterMatches("*", "case.created")).toBe(true);
  });

  it("accepts only well-formed filters", () => {
    for (const ok of ["*", "vault.*", "vault.ingest.completed", "case.decisions_updated"]) {
      expect(EVENT_TYPE_FILTER_PATTERN.test(ok), ok).toBe(true);
    }
    for (const bad of ["", "vault.", "*.created", "vault.**", "Vault.created", "vault*", "a..b"]) {
      expect(EVENT_TYPE_FILTER_PATTERN.test(bad), bad).toBe(false);
    }
  });

  it("selects catalog types within the key's scopes", () => {
    expect(typesSelectedBy("*", ["*"])).toHaveLength(eventTypes.length);
    expect(typesSelectedBy("vault.*", ["*"])).toEqual([
      "vault.ingest.completed",
      "vault.ingest.failed",
      "vault.object.deleted",
    ]);
    expect(typesSelectedBy("*", ["cases"]).every((t) => t.startsWith("case."))).toBe(true);
    expect(typesSelectedBy("vault.*", ["cases"])).toEqual([]);
    expect(typesSelectedBy("nothing.*", ["*"])).toEqual([]);
  });
});

describe("resource scopes", () => {
  it("lets through only events about a listed resource", () => {
    const scopes = { vaultIds: ["vault_1", "vault_2"] };
    expect(resourceScopesMatch(scopes, { vault: "vault_1" })).toBe(true);
    expect(resourceScopesMatch(scopes, { vault: "vault_3" })).toBe(false);
    expect(resourceScopesMatch(scopes, { matter: "matter_1" })).toBe(false);
    expect(resourceScopesMatch({}, { matter: "matter_1" })).toBe(true);
    expect(resourceScopesMatch({ vaultIds: ["v"], matterIds: ["m"] }, { vault: "v", matter: "x" })).toBe(
      false,
    );
  });
});
