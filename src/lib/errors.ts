/**
 * The one domain error type. Core code throws it; `app.onError` renders it as RFC 9457
 * problem+json. `errors` points at the offending fields.
 */
export type FieldError = { path: string; message: string };

export type ServiceErrorKind = "validation" | "not_found" | "conflict" | "unauthorized";

const STATUS: Record<ServiceErrorKind, 401 | 404 | 409 | 422> = {
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  validation: 422,
};

export class ServiceError extends Error {
  readonly status: 401 | 404 | 409 | 422;

  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
    readonly errors?: FieldError[],
  ) {
    super(message);
    this.status = STATUS[kind];
  }
}

export const notFound = (what: string) => new ServiceError("not_found", `${what} not found`);

export const invalid = (path: string, message: string) =>
  new ServiceError("validation", "The request is not valid", [{ path, message }]);
