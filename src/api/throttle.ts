import { ServiceError } from "../lib/errors";

/**
 * Per-credential throttling of the management and publish APIs, after authentication, with the Rate
 * Limiting bindings of wrangler.toml; a throttled client is told to wait one period of its limiter.
 */

/** The `period` of each limiter in wrangler.toml. */
const PERIOD_SECONDS = { admin: 10, organizationKey: 60 } as const;

/**
 * The operator's token publishes every event of the platform, and publishing is the hot path, so its
 * limiter counts blocks of this many requests (wrangler.toml: 1,000 blocks are 10,000 requests per
 * 10 s). An isolate takes a block with one `limit()` call and spends it on the requests that follow.
 */
const ADMIN_REQUESTS_PER_BLOCK = 10;

/** Whether a limiter lets one more call through, as the Rate Limiting binding answers. */
type Limiter = Pick<RateLimit, "limit">;

/**
 * Permits for one limiter key, `blockSize` for each granted `limit()` call, spendable for one period
 * after it (a block is counted in the window it was taken in). A request that finds none left asks
 * for a block itself, even while another request's call is out: a request may only await its own
 * I/O, as Workers cancels what awaits a promise of a request that has ended. So concurrent requests
 * can each take a block; the permits they leave serve the requests after them. The isolate's permits
 * are never more than the limiter granted, and a refused call refuses only its own request.
 */
export function blockPermits(key: string, blockSize: number, periodMs: number) {
  let left = 0;
  let spendableUntil = 0;
  return async function take(limiter: Limiter, now: () => number = Date.now): Promise<boolean> {
    if (left > 0 && now() < spendableUntil) {
      left--;
      return true;
    }
    const { success } = await limiter.limit({ key });
    if (!success) return false;
    const at = now();
    left = (at < spendableUntil ? left : 0) + blockSize - 1;
    spendableUntil = at + periodMs;
    return true;
  };
}

const adminPermits = blockPermits("admin", ADMIN_REQUESTS_PER_BLOCK, PERIOD_SECONDS.admin * 1000);

export async function throttleAdmin(limiter: RateLimit): Promise<void> {
  if (!(await adminPermits(limiter))) throw throttled(PERIOD_SECONDS.admin);
}

/** Organization keys have a low limit and make few requests: each request is counted. */
export async function throttleOrganizationKey(limiter: RateLimit, keyId: string): Promise<void> {
  const { success } = await limiter.limit({ key: keyId });
  if (!success) throw throttled(PERIOD_SECONDS.organizationKey);
}

/**
 * A public route (an endpoint's JWKS) is counted per client address, under the organization keys'
 * limiter with a key of its own: a receiver fetches keys now and then, a flood is refused before D1.
 */
export async function throttleAddress(limiter: RateLimit, address: string): Promise<void> {
  const { success } = await limiter.limit({ key: `address:${address}` });
  if (!success)
    throw new ServiceError(
      "throttled",
      "Too many requests from this address",
      undefined,
      PERIOD_SECONDS.organizationKey,
    );
}

function throttled(periodSeconds: number): ServiceError {
  return new ServiceError("throttled", "Too many requests with this credential", undefined, periodSeconds);
}
