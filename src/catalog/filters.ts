import type { Endpoint, ResourceScopes } from "../domain/endpoint";
import type { EventResources } from "../domain/event";
import {
  type EventTypeDefinition,
  eventTypes,
  findEventType,
  resourceNames,
  resourceScopeKey,
} from "./index";
import { matchesPayloadFilter } from "./payload-filter";

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

type Subscription = Pick<Endpoint, "eventTypeFilters" | "allowedScopes">;

/**
 * Whether an endpoint's subscription takes in a catalog type: its filters select the type, within the
 * scopes of the key that subscribed it (so `*` under a scoped key stays inside its scopes).
 */
const subscribesTo = (endpoint: Subscription, definition: EventTypeDefinition) =>
  scopeAllows(endpoint.allowedScopes, definition.scope) &&
  matchesAnyFilter(endpoint.eventTypeFilters, definition.type);

/**
 * Fan-out's one question: does this endpoint receive this event? Its subscription must take in the
 * type, the event must be about a resource its resource scopes list, and its data must meet the
 * endpoint's payload filter, if it has one (payload-filter.ts).
 */
export function endpointReceives(
  endpoint: Subscription & Pick<Endpoint, "resourceScopes" | "payloadFilter">,
  event: { type: string; resources: EventResources; data: unknown },
): boolean {
  const definition = findEventType(event.type);
  return (
    definition !== undefined &&
    subscribesTo(endpoint, definition) &&
    resourceScopesMatch(endpoint.resourceScopes, event.resources) &&
    (endpoint.payloadFilter === null || matchesPayloadFilter(endpoint.payloadFilter, event.data))
  );
}

/**
 * Whether a key's scopes cover an event type, so that the key may read its events and deliveries. A
 * type the catalog no longer lists has no scope: only a `*` key covers it.
 */
export function scopesCoverType(keyScopes: readonly string[], type: string): boolean {
  const definition = findEventType(type);
  return definition ? scopeAllows(keyScopes, definition.scope) : keyScopes.includes(ALL_SCOPES);
}

/**
 * The types whose events and deliveries a key may read (for list queries); undefined for a `*` key,
 * which reads every type.
 */
export function typesCoveredBy(keyScopes: readonly string[]): string[] | undefined {
  if (keyScopes.includes(ALL_SCOPES)) return undefined;
  return eventTypes.filter((d) => scopeAllows(keyScopes, d.scope)).map((d) => d.type);
}

/**
 * The coverage rule: a key may change an endpoint, and act for it (rotate its secret, test, replay,
 * recover), only if its scopes cover every type the endpoint receives under its stored filters and
 * `allowedScopes`. Scopes limit what a key's endpoints may subscribe to (typesSelectedBy); without
 * this rule a narrower key could take over a wider key's subscription by changing its URL. Returns
 * the scopes the key lacks, none when it covers the endpoint.
 */
export function scopesMissingFor(keyScopes: readonly string[], endpoint: Subscription): string[] {
  const received = eventTypes.filter((d) => subscribesTo(endpoint, d));
  return [...new Set(received.map((d) => d.scope))].filter((scope) => !scopeAllows(keyScopes, scope));
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
