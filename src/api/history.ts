import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { History } from "../db/buckets";
import { dataOf } from "../db/shards";
import type { AppEnv } from "./auth";

/**
 * The request and answer header of a history read's D1 bookmark (docs/api.md#consistency): sent
 * back, it makes the next read see at least what this one saw.
 */
export const BOOKMARK_HEADER = "X-Bookmark";

/** The request header of every history read: D1 bookmarks are hex groups joined by dashes, nothing else reaches D1. */
export const BookmarkHeaders = z.object({
  "x-bookmark": z
    .string()
    .max(300)
    .regex(/^[0-9a-f]{1,16}(-[0-9a-f]{1,64}){0,8}$/i, "not a bookmark this service gave")
    .optional()
    .openapi({
      description: "The `X-Bookmark` of an earlier answer: this read sees at least what that one saw",
    }),
});

/** The answer header of every history read. */
export const bookmarkAnswer = {
  headers: z.object({
    [BOOKMARK_HEADER]: z.string().openapi({ description: "Send it back to read at least this fresh" }),
  }),
};

/**
 * Reads of the organization's history (events, deliveries: `GET` only) go through a D1 session on
 * its shard, so they may be served by a nearby read replica when replication is enabled: no older
 * than the client's bookmark when it sends one, else any replica. The answer carries the session's
 * bookmark. Lists may so lag a write by a replica's delay (docs/api.md#consistency).
 */
export async function readHistory<T>(c: Context<AppEnv>, read: (h: History) => Promise<T>): Promise<T> {
  const { history, session } = await historySession(c, clientBookmark(c) ?? "first-unconstrained");
  const result = await read(history);
  answerBookmark(c, session);
  return result;
}

/**
 * One object of the history, as readHistory reads it; but one a replica does not have is asked of
 * the primary once more, so an object written a moment ago (an event just published) is found,
 * never a 404 for a replica's lag.
 */
export async function findInHistory<T>(
  c: Context<AppEnv>,
  find: (h: History) => Promise<T | null>,
): Promise<T | null> {
  let { history, session } = await historySession(c, clientBookmark(c) ?? "first-unconstrained");
  let found = await find(history);
  if (found === null) {
    ({ history, session } = await historySession(c, "first-primary"));
    found = await find(history);
  }
  answerBookmark(c, session);
  return found;
}

/** The organization's history read through a new session of its shard's database. */
async function historySession(
  c: Context<AppEnv>,
  from: string,
): Promise<{ history: History; session: D1DatabaseSession }> {
  const shard = await dataOf(c.env, c.get("organizationId"));
  const session = shard.db.withSession(from);
  return { history: { ...shard, db: session }, session };
}

function answerBookmark(c: Context<AppEnv>, session: D1DatabaseSession): void {
  const bookmark = session.getBookmark();
  if (bookmark) c.header(BOOKMARK_HEADER, bookmark);
}

/** The client's bookmark, checked by the route's BookmarkHeaders. */
function clientBookmark(c: Context<AppEnv>): string | undefined {
  return c.req.header(BOOKMARK_HEADER) || undefined;
}
