import { ServiceError } from "../lib/errors";
import { type EventTypeDefinition, findEventType } from "./index";

/**
 * The catalog's contract, checked wherever event data enters (publishing, test sends, replay
 * overrides): the type must exist and the data match its schema. Errors name the caller's fields.
 */
export function checkEventData(
  type: string,
  data: unknown,
  paths: { type: string; data: string },
): { definition: EventTypeDefinition; data: Record<string, unknown> } {
  const definition = findEventType(type);
  if (!definition) {
    throw new ServiceError("validation", `Unknown event type "${type}"`, [
      { path: paths.type, message: "is not in the event catalog (GET /webhooks/v1/event_types)" },
    ]);
  }
  const parsed = definition.schema.safeParse(data);
  if (!parsed.success) {
    throw new ServiceError(
      "validation",
      `${paths.data} does not match the schema of ${type}`,
      parsed.error.issues.map((issue) => ({
        path: [paths.data, ...issue.path.map(String)].join("."),
        message: issue.message,
      })),
    );
  }
  return { definition, data: parsed.data as Record<string, unknown> };
}
