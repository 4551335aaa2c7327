import { ServiceError } from "../lib/errors";

/**
 * Refused credentials are counted per client address (`CF-Connecting-IP`) with the
 * AUTH_FAILURE_RATE_LIMITER binding of wrangler.toml. Past its limit an address is refused for one
 * period before its token is even read, so guessing tokens costs neither a hash nor a D1 look-up per
 * guess. Only refusals count: an address whose credentials are good (a platform relaying many
 * organizations' keys) is not slowed by this, however much it sends. The binding only answers
 * `limit()`, so the block list is the isolate's own: each isolate blocks an address from the first
 * refusal it counts past the limit, which costs it one look-up per period.
 */

/** The `period` of AUTH_FAILURE_RATE_LIMITER in wrangler.toml. */
const PERIOD_MS = 10_000;
/** Addresses one isolate keeps blocked at most; past it, expired blocks go, then the oldest. */
const MAX_BLOCKED = 10_000;

type Limiter = Pick<RateLimit, "limit">;

/** The address a request came from, as Cloudflare's edge reports it (absent outside Cloudflare). */
export const clientAddress = (request: Request) => request.headers.get("cf-connecting-ip") ?? "unknown";

/** A gate with its own block list: one per isolate (`guardAuthentication`), or per unit test. */
export function authFailureGate(now: () => number = Date.now) {
  const blockedUntil = new Map<string, number>();
  const block = (address: string) => {
    if (blockedUntil.size >= MAX_BLOCKED) {
      const at = now();
      for (const [other, until] of blockedUntil) if (until <= at) blockedUntil.delete(other);
      const oldest = blockedUntil.keys().next();
      if (blockedUntil.size >= MAX_BLOCKED && !oldest.done) blockedUntil.delete(oldest.value);
    }
    blockedUntil.set(address, now() + PERIOD_MS);
  };

  /** Runs `authenticate` for a request from `address`, unless the address is blocked. */
  return async function guard<T>(
    limiter: Limiter,
    address: string,
    authenticate: () => Promise<T>,
  ): Promise<T> {
    const until = blockedUntil.get(address);
    if (until !== undefined && now() < until) throw throttled(until - now());
    if (until !== undefined) blockedUntil.delete(address);
    try {
      return await authenticate();
    } catch (error) {
      if (!(error instanceof ServiceError && error.kind === "unauthorized")) throw error;
      if ((await limiter.limit({ key: address })).success) throw error;
      block(address);
      throw throttled(PERIOD_MS);
    }
  };
}

export const guardAuthentication = authFailureGate();

function throttled(waitMs: number): ServiceError {
  return new ServiceError(
    "throttled",
    "Too many refused credentials from this address: try again later",
    undefined,
    Math.max(1, Math.ceil(waitMs / 1000)),
  );
}
