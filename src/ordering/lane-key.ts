import type { Ordering } from "../domain/endpoint";
import type { EventRecord } from "../domain/event";

/**
 * The lane an event's delivery waits in at an ordered endpoint: with `ordering: "key"`, the event's
 * `orderingKey`, else its first resource id, else the endpoint's one lane (""); with `"endpoint"`,
 * that one lane. An `orderingKey` is never empty, so "" is no key's lane.
 */
export function laneKeyOf(
  ordering: Exclude<Ordering, "none">,
  event: Pick<EventRecord, "order" | "resources">,
): string {
  if (ordering === "endpoint") return "";
  return event.order?.key ?? Object.values(event.resources)[0] ?? "";
}
