import type { z } from "zod";

/**
 * One event type of the catalog. `resource` names what the event is about (`vault`, `matter`, …):
 * endpoints can scope themselves to resource ids (`resourceScopes.vaultIds`), slim payloads carry it,
 * and publishing takes its id from `data[resource.idField]` when `resources` does not name it.
 */
/** Whether a type's shape may still change (`beta`) or is kept as it is (`stable`). */
export const STABILITIES = ["stable", "beta"] as const;
export type Stability = (typeof STABILITIES)[number];

export type EventTypeDefinition = {
  type: string;
  description: string;
  /** The API-key scope that may subscribe to this type. */
  scope: string;
  stability: Stability;
  resource?: { name: string; idField: string };
  schema: z.ZodType;
  example: Record<string, unknown>;
};

/** Keeps each family's literal types checked against the schema at compile time. */
export function defineEventType<S extends z.ZodType>(
  definition: Omit<EventTypeDefinition, "schema" | "example"> & { schema: S; example: z.input<S> },
): EventTypeDefinition {
  return definition as EventTypeDefinition;
}
