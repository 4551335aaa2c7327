import { describe, expect, it } from "vitest";
import { eventTypes } from "../../../src/catalog";
import {
  EVENT_TYPE_FILTER_PATTERN,
  filterMatches,
  resourceScopesMatch,
  scopesCoverType,
  scopesMissingFor,
  typesCoveredBy,
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
    expect(typesSelectedBy("*", ["cases"])).toEqual([
      "case.created",
      "case.updated",
      "case.decisions_updated",
      "case.file_added",
    ]);
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

describe("coverage: what a key may change and read", () => {
  const subscription = (eventTypeFilters: string[], allowedScopes: string[]) => ({
    eventTypeFilters,
    allowedScopes,
  });

  it("covers an endpoint when its scopes take in every type the endpoint receives", () => {
    expect(scopesMissingFor(["vaults"], subscription(["matter.*"], ["*"]))).toEqual(["matters"]);
    expect(scopesMissingFor(["vaults"], subscription(["vault.*", "matter.created"], ["*"]))).toEqual([
      "matters",
    ]);
    expect(
      scopesMissingFor(["vaults", "matters"], subscription(["vault.*", "matter.created"], ["*"])),
    ).toEqual([]);
    expect(scopesMissingFor(["*"], subscription(["*"], ["*"]))).toEqual([]);
    // `*` subscribed by a `*` key receives every scope of the catalog.
    expect(scopesMissingFor(["vaults"], subscription(["*"], ["*"])).sort()).toEqual(
      ["cases", "decisions", "matters", "operator", "webhooks"].sort(),
    );
  });

  it("reads filters under the scopes they were set with, not the filters' letter", () => {
    // `*` set by a vaults key receives vault types only, so a vaults key covers it…
    expect(scopesMissingFor(["vaults"], subscription(["*"], ["vaults"]))).toEqual([]);
    // …and a filter that selects nothing within its scopes asks for nothing.
    expect(scopesMissingFor(["cases"], subscription(["vault.*"], ["cases"]))).toEqual([]);
    expect(scopesMissingFor(["cases"], subscription(["vault.*", "case.*"], ["vaults", "cases"]))).toEqual([
      "vaults",
    ]);
  });

  it("lets a key read the types of its scopes, and a `*` key every type, known or not", () => {
    expect(scopesCoverType(["vaults"], "vault.ingest.completed")).toBe(true);
    expect(scopesCoverType(["vaults"], "matter.created")).toBe(false);
    expect(scopesCoverType(["vaults"], "no.longer.listed")).toBe(false);
    expect(scopesCoverType(["*"], "no.longer.listed")).toBe(true);
    expect(typesCoveredBy(["*"])).toBeUndefined();
    expect(typesCoveredBy(["vaults"])).toEqual([
      "vault.ingest.completed",
      "vault.ingest.failed",
      "vault.object.deleted",
    ]);
    expect(typesCoveredBy(["vaults", "cases"])).toEqual(
      eventTypes.filter((d) => d.scope === "vaults" || d.scope === "cases").map((d) => d.type),
    );
  });
});
