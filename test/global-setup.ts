import type { TestProject } from "vitest/node";
import { startReceiver } from "./support/receiver";

/** Starts the real HTTP receiver the Worker under test delivers to, and tells the tests its port. */
export default async function setup(project: TestProject) {
  const receiver = await startReceiver();
  project.provide("receiverPort", receiver.port);
  return receiver.close;
}

declare module "vitest" {
  export interface ProvidedContext {
    receiverPort: number;
    /** The queue consumers of wrangler.toml, as the tests run them (vitest.config.ts). */
    queueConsumers: Record<string, { maxBatchSize?: number; maxRetries?: number; deadLetterQueue?: string }>;
  }
}
