import type { Context } from "hono";
import { scopesCoverType, scopesMissingFor, typesCoveredBy } from "../catalog/filters";
import { getEndpoint } from "../db/endpoints/reads";
import type { Endpoint } from "../domain/endpoint";
import { notFound, ServiceError } from "../lib/errors";
import type { EndpointId } from "../lib/ids";
import type { AppEnv } from "./auth";

/**
 * What an API key's scopes let it do beyond its organization's bounds (the coverage rule of
 * catalog/filters.ts): change or act for an endpoint only if they cover its subscription (else 403),
 * and read only the events and deliveries of types they cover (others read as missing, 404).
 */

/** The organization's live endpoint `id`, or 404. */
export async function endpointOf(c: Context<AppEnv>, id: EndpointId): Promise<Endpoint> {
  const endpoint = await getEndpoint(c.env.DB, c.get("organizationId"), id);
  if (!endpoint) throw notFound("Endpoint");
  return endpoint;
}

/** 403 unless the key's scopes cover every type `endpoint` receives. */
export function checkCoverage(c: Context<AppEnv>, endpoint: Endpoint): void {
  const missing = scopesMissingFor(c.get("apiKeyScopes"), endpoint);
  if (missing.length > 0) {
    throw new ServiceError(
      "forbidden",
      `This API key's scopes do not cover the endpoint's subscription: it also receives events of scope ${missing.join(", ")}. Use a key whose scopes include ${missing.length > 1 ? "them" : "it"}, or *.`,
    );
  }
}

/** The endpoint `id`, which the key's scopes must cover, to change or to act for. */
export async function endpointToChange(c: Context<AppEnv>, id: EndpointId): Promise<Endpoint> {
  const endpoint = await endpointOf(c, id);
  checkCoverage(c, endpoint);
  return endpoint;
}

/** Whether the key may read events and deliveries of `type`. */
export const mayRead = (c: Context<AppEnv>, type: string) => scopesCoverType(c.get("apiKeyScopes"), type);

/** The types the key may read, for list queries; undefined when it reads every type. */
export const readableTypes = (c: Context<AppEnv>) => typesCoveredBy(c.get("apiKeyScopes"));
