/**
 * The one domain error type. Core code throws it; `app.onError` renders it as RFC 9457
 * problem+json. `errors` points at the offending fields.
 */
export type FieldError = { path: string; message: string };

export type ServiceErrorKind =
  | "validation"
  | "not_found"
  | "conflict"
  | "unauthorized"
  | "forbidden"
  | "throttled";

const STATUS = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  validation: 422,
  throttled: 429,
} as const satisfies Record<ServiceErrorKind, number>;

export class ServiceError extends Error {
  readonly status: (typeof STATUS)[ServiceErrorKind];

  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
    readonly errors?: FieldError[],
    /** Seconds a throttled client should wait (sent as `Retry-After`). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.status = STATUS[kind];
  }
}

export const notFound = (what: string) => new ServiceError("not_found", `${what} not found`);

export const invalid = (path: string, message: string) =>
  new ServiceError("validation", "The request is not valid", [{ path, message }]);
