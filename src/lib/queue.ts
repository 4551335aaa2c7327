/**
 * Cloudflare Queues plumbing every stage shares: the queue names as wrangler.toml declares them (the
 * queue handler dispatches on `batch.queue`), how bodies are written and read, sending within the
 * platform's limits, and how long a message may be late before the work it stands for is swept.
 */
export const QUEUES = {
  events: "webhook-events",
  eventsDeadLetter: "webhook-events-dlq",
  deliveries: "webhook-deliveries",
  /** Deliveries to endpoints measured slow (delivery/lanes.ts), consumed apart from the others. */
  slowDeliveries: "webhook-deliveries-slow",
  deliveriesDeadLetter: "webhook-deliveries-dlq",
} as const;

/**
 * Work whose queue message was not consumed this long after it was due is presumed lost: rows that
 * wait for a message carry a `sweep_after` this far ahead, and the cron sweep re-sends them after it.
 */
export const SWEEP_GRACE_MS = 2 * 60_000;

export const sweepAfter = (dueMs: number) => new Date(dueMs + SWEEP_GRACE_MS).toISOString();

// Queues takes messages of up to 128 KB, and batches of up to 100 messages and 256 KB; a margin is
// left for the envelope the runtime adds.
const MESSAGE_BYTES_LIMIT = 120_000;
const BATCH_BYTES_LIMIT = 240_000;
export const QUEUE_SEND_BATCH_LIMIT = 100;

const encoder = new TextEncoder();

/** `body` with `extra` added when the result still fits in one queue message. */
export function withIfFits<T extends object>(body: T, extra: Partial<T>): T {
  const fuller = { ...body, ...extra };
  return encoder.encode(JSON.stringify(fuller)).length <= MESSAGE_BYTES_LIMIT ? fuller : body;
}

/**
 * Bodies travel as JSON text this code writes (`contentType: "text"`), not as the runtime's own
 * serialization: the runtime decodes a whole batch before the consumer runs, and one body it cannot
 * decode would fail every message of the batch. Text always decodes; each consumer parses each body
 * itself (readMessages), so a body it cannot read fails alone.
 */
export const textMessage = (body: unknown, delaySeconds?: number) => ({
  body: JSON.stringify(body),
  contentType: "text" as const,
  ...(delaySeconds === undefined ? {} : { delaySeconds }),
});

/**
 * Sends `messages` in as few `sendBatch` calls as Queues' count and size limits allow, reading them
 * (an array, or a generator making each one) only as far as the batch being filled.
 */
export async function sendAll<T>(
  queue: Queue,
  messages: Iterable<{ body: T; delaySeconds?: number }>,
): Promise<void> {
  let batch: MessageSendRequest[] = [];
  let bytes = 0;
  for (const { body, delaySeconds } of messages) {
    const message = textMessage(body, delaySeconds);
    const size = encoder.encode(message.body).length;
    if (batch.length === QUEUE_SEND_BATCH_LIMIT || (batch.length > 0 && bytes + size > BATCH_BYTES_LIMIT)) {
      await queue.sendBatch(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(message);
    bytes += size;
  }
  if (batch.length > 0) await queue.sendBatch(batch);
}

/** A message and its body, read. */
export type Received<T> = { message: Message; body: T };

/**
 * Each message's body, parsed and checked on its own. One that cannot be read is acknowledged and
 * logged as an error: retrying cannot make it readable. Events, retries and replays stay due for the
 * sweeper in D1 until done (sweeper/sweep.ts), so theirs is sent again from the row; only a first
 * attempt handed on by fan-out has no row to come back from. Since this code writes every body,
 * an unreadable one means corruption or a bug, never a tenant's input. Bodies sent as objects by an
 * earlier version are read as they are.
 */
export function readMessages<T>(batch: MessageBatch, isBody: (value: unknown) => value is T): Received<T>[] {
  const read: Received<T>[] = [];
  for (const message of batch.messages) {
    const body = parseBody(message.body);
    if (isBody(body)) {
      read.push({ message, body });
      continue;
    }
    console.error(
      JSON.stringify({
        message: "unreadable queue message acknowledged",
        queue: batch.queue,
        messageId: message.id,
        attempts: message.attempts,
      }),
    );
    message.ack();
  }
  return read;
}

function parseBody(body: unknown): unknown {
  if (typeof body !== "string") return body;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** For the checks of message bodies: a JSON object. */
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** For the checks of message bodies: a string that starts with `prefix`. */
export const isIdOf = (value: unknown, prefix: string) =>
  typeof value === "string" && value.startsWith(prefix);

/**
 * For consumers of few messages (the dead-letter queues): each message written on its own,
 * acknowledged once written, else retried alone.
 */
export async function answerEach<T>(
  received: Received<T>[],
  write: (body: T) => Promise<void>,
): Promise<void> {
  for (const { message, body } of received) {
    try {
      await write(body);
      message.ack();
    } catch (error) {
      console.error(
        JSON.stringify({
          message: "queue message not processed",
          messageId: message.id,
          error: String(error),
        }),
      );
      message.retry();
    }
  }
}
