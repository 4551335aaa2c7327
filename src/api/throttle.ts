import { ServiceError } from "../lib/errors";

/**
 * Per-credential throttling of the management and publish APIs, after authentication, with the Rate
 * Limiting bindings of wrangler.toml; a throttled client is told to wait one period of its limiter.
 */

/** The `period` of each limiter in wrangler.toml. */
const PERIOD_SECONDS = { admin: 10, organizationKey: 60 } as const;

/**
 * The operator's token publishes every event of the platform, and publishing is the hot path, so its
 * limiter counts blocks of this many requests rather than requests: an isolate takes a block with one
 * `limit()` call and spends it on the requests that follow, and nine publishes in ten make no call.
 * An isolate is never more than one block ahead of the limit; a block an isolate leaves unspent errs
 * on the safe side.
 */
export const ADMIN_REQUESTS_PER_BLOCK = 10;

/**
 * Permits for one limiter key, taken `blockSize` at a time. Requests that find the block spent while
 * a call for the next one is out wait for that call rather than each making their own.
 */
export function blockPermits(key: string, blockSize: number) {
  let left = 0;
  let refill: Promise<boolean> | undefined;
  return async function take(limiter: RateLimit): Promise<boolean> {
    for (;;) {
      if (left > 0) {
        left--;
        return true;
      }
      refill ??= limiter
        .limit({ key })
        .then(({ success }) => {
          if (success) left += blockSize;
          return success;
        })
        .finally(() => {
          refill = undefined;
        });
      if (!(await refill)) return false;
    }
  };
}

const adminPermits = blockPermits("admin", ADMIN_REQUESTS_PER_BLOCK);

export async function throttleAdmin(limiter: RateLimit): Promise<void> {
  if (!(await adminPermits(limiter))) throw throttled(PERIOD_SECONDS.admin);
}

/** Organization keys have a low limit and make few requests: each request is counted. */
export async function throttleOrganizationKey(limiter: RateLimit, keyId: string): Promise<void> {
  const { success } = await limiter.limit({ key: keyId });
  if (!success) throw throttled(PERIOD_SECONDS.organizationKey);
}

function throttled(periodSeconds: number): ServiceError {
  return new ServiceError("throttled", "Too many requests with this credential", undefined, periodSeconds);
}
