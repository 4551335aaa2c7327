import type { ResourceScopes } from "../db/endpoints";
import type { EventResources } from "../db/events";
import { eventTypes, resourceNames, resourceScopeKey } from "./index";

/**
 * Subscription filters: an exact type (`vault.ingest.completed`), a prefix wildcard (`vault.ingest.*`,
 * `vault.*`: every type starting with the part before `*`), or `*` for every type.
 */
export const EVENT_TYPE_FILTER_PATTERN = /^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$/;

export const ALL_SCOPES = "*";

export function filterMatches(filter: string, type: string): boolean {
  if (filter === "*") return true;
  if (filter.endsWith(".*")) return type.startsWith(filter.slice(0, -1));
  return filter === type;
}

export function matchesAnyFilter(filters: readonly string[], type: string): boolean {
  return filters.some((filter) => filterMatches(filter, type));
}

/** The catalog types a filter selects among those an API key's scopes allow. */
export function typesSelectedBy(filter: string, keyScopes: readonly string[]): string[] {
  const allowAll = keyScopes.includes(ALL_SCOPES);
  return eventTypes
    .filter((d) => (allowAll || keyScopes.includes(d.scope)) && filterMatches(filter, d.type))
    .map((d) => d.type);
}

/**
 * An endpoint scoped to resources (`{ vaultIds: ["vault_1"] }`) receives only events about a listed
 * resource; an event that does not name a scoped resource at all is not delivered either.
 */
export function resourceScopesMatch(scopes: ResourceScopes, resources: EventResources): boolean {
  return resourceNames.every((name) => {
    const allowed = scopes[resourceScopeKey(name)];
    if (!allowed) return true;
    const id = resources[name];
    return id !== undefined && allowed.includes(id);
  });
}
