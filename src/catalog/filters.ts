import type { Endpoint, ResourceScopes } from "../db/endpoints";
import type { EventResources } from "../db/events";
import { eventTypes, findEventType, resourceNames, resourceScopeKey } from "./index";

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

const scopeAllows = (keyScopes: readonly string[], scope: string) =>
  keyScopes.includes(ALL_SCOPES) || keyScopes.includes(scope);

/** The catalog types a filter selects among those an API key's scopes allow. */
export function typesSelectedBy(filter: string, keyScopes: readonly string[]): string[] {
  return eventTypes
    .filter((d) => scopeAllows(keyScopes, d.scope) && filterMatches(filter, d.type))
    .map((d) => d.type);
}

/**
 * Fan-out's one question: does this endpoint receive this event? Its filters must select the type,
 * within the scopes of the key that subscribed it (so `*` under a scoped key stays inside its scopes),
 * and the event must be about a resource its resource scopes list.
 */
export function endpointReceives(
  endpoint: Pick<Endpoint, "eventTypeFilters" | "allowedScopes" | "resourceScopes">,
  event: { type: string; resources: EventResources },
): boolean {
  const definition = findEventType(event.type);
  return (
    definition !== undefined &&
    scopeAllows(endpoint.allowedScopes, definition.scope) &&
    matchesAnyFilter(endpoint.eventTypeFilters, event.type) &&
    resourceScopesMatch(endpoint.resourceScopes, event.resources)
  );
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
