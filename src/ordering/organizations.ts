import { hasOrderedEndpoint } from "../db/endpoints/reads";
import type { OrganizationId } from "../lib/ids";

/**
 * Whether an organization's publishes are numbered (events/publish.ts): only one with an ordered
 * endpoint pays for the number. Each isolate remembers the answer for ORDERING_SEEN_MS, a control-plane
 * read saved on nearly every publish, so an endpoint made ordered orders the events accepted from at
 * most that long after (docs/architecture.md#ordered-lanes); the API forgets it at once in the isolate
 * that made the change.
 */
export const ORDERING_SEEN_MS = 30_000;

const seen = new Map<OrganizationId, { ordered: boolean; until: number }>();
const SEEN_LIMIT = 10_000;

export async function isOrderedOrganization(env: Env, organizationId: OrganizationId): Promise<boolean> {
  const now = Date.now();
  const known = seen.get(organizationId);
  if (known && known.until > now) return known.ordered;
  const ordered = await hasOrderedEndpoint(env.DB, organizationId);
  if (seen.size >= SEEN_LIMIT) seen.clear();
  seen.set(organizationId, { ordered, until: now + ORDERING_SEEN_MS });
  return ordered;
}

/** An endpoint of the organization was created, changed or deleted: read its ordering afresh. */
export function forgetOrdering(organizationId: OrganizationId): void {
  seen.delete(organizationId);
}
