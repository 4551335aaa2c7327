import { z } from "zod";
import { caseDevEventTypes } from "./case-dev";
import type { EventTypeDefinition, Stability } from "./define";
import { marbleEventTypes } from "./marble";
import { operationalEventTypes } from "./operational";

export type { EventTypeDefinition } from "./define";

/**
 * The event catalog: every type the service accepts, with the zod schema its `data` must match.
 * To ship another platform's families, add a module beside case-dev.ts and list it here.
 */
export const eventTypes: readonly EventTypeDefinition[] = [
  ...caseDevEventTypes,
  ...marbleEventTypes,
  ...operationalEventTypes,
];

const byType = new Map(eventTypes.map((definition) => [definition.type, definition]));

export function findEventType(type: string): EventTypeDefinition | undefined {
  return byType.get(type);
}

/** Resource names the catalog declares (`vault`, `matter`, …), each scoping endpoints by `<name>Ids`. */
export const resourceNames: readonly string[] = [
  ...new Set(eventTypes.flatMap((definition) => (definition.resource ? [definition.resource.name] : []))),
];

export const resourceScopeKey = (resourceName: string) => `${resourceName}Ids`;

export type EventTypeDescription = {
  type: string;
  description: string;
  scope: string;
  stability: Stability;
  resource?: string;
  schema: unknown;
  example: Record<string, unknown>;
};

let descriptions: EventTypeDescription[] | undefined;

/** The catalog as served by `GET /webhooks/v1/event_types`, schemas as JSON Schema (computed once). */
export function describeEventTypes(): EventTypeDescription[] {
  descriptions ??= eventTypes.map((d) => ({
    type: d.type,
    description: d.description,
    scope: d.scope,
    stability: d.stability,
    ...(d.resource ? { resource: d.resource.name } : {}),
    schema: z.toJSONSchema(d.schema, { io: "input" }),
    example: d.example,
  }));
  return descriptions;
}

/** Every API-key scope the catalog knows (`vaults`, `cases`, …). */
export const catalogScopes: readonly string[] = [
  ...new Set(eventTypes.map((definition) => definition.scope)),
];
