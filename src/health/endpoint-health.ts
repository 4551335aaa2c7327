import { DurableObject } from "cloudflare:workers";
import { getConfig } from "../config";
import type { DisabledReason } from "../db/endpoints";
import { type AttemptOutcome, HEALTHY, type HealthState, recordOutcomes } from "./policy";

const STATE_KEY = "state";

/**
 * One per endpoint (named by the endpoint id): the only owner of its failure streak. The delivery
 * consumer reports each batch's outcomes in one call; the object answers whether to auto-disable.
 * Input gates serialise calls, so concurrent consumer batches cannot lose an update.
 */
export class EndpointHealth extends DurableObject<Env> {
  private async load(): Promise<HealthState> {
    return (await this.ctx.storage.get<HealthState>(STATE_KEY)) ?? HEALTHY;
  }

  async record(outcomes: AttemptOutcome[]): Promise<{ disable?: DisabledReason }> {
    const config = getConfig(this.env);
    const { state, disable } = recordOutcomes(await this.load(), outcomes, config);
    await this.ctx.storage.put(STATE_KEY, state);
    return disable ? { disable } : {};
  }

  /** Called when an endpoint is re-enabled: a fresh start, history of last results kept. */
  async reset(): Promise<void> {
    const state = await this.load();
    await this.ctx.storage.put(STATE_KEY, {
      ...state,
      streakStartedAt: null,
      failuresInStreak: 0,
      disabled: false,
    });
  }

  async state(): Promise<HealthState> {
    return this.load();
  }
}

export function endpointHealth(env: Env, endpointId: string): DurableObjectStub<EndpointHealth> {
  return env.ENDPOINT_HEALTH.get(env.ENDPOINT_HEALTH.idFromName(endpointId));
}
