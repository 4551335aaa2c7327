import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ALL_SCOPES } from "../catalog/filters";
import { getConfig } from "../config";
import { checkEndpointUrl } from "../delivery/url-policy";
import { invalid, ServiceError } from "../lib/errors";
import type { OrganizationId } from "../lib/ids";
import { signPortalToken } from "../lib/portal-token";
import {
  bodyResponses,
  createRouter,
  defaultsTo,
  jsonContent,
  optionalJsonBody,
  problemContent,
} from "./app";
import { type AppEnv, apiKeyAuth } from "./auth";

/**
 * Links to the customer portal (docs/api.md#portal-sessions): asked for by the operator for any
 * organization (api/admin.ts), or by an organization for itself with a key whose scopes are `*`.
 */
const DEFAULT_EXPIRES_IN_SEC = 3600;

export const PortalSessionIn = z
  .strictObject({
    expiresInSec: defaultsTo(
      z.number().int().min(60).max(86_400),
      DEFAULT_EXPIRES_IN_SEC,
      "How long the link and the session it opens last, in seconds",
    ),
    readOnly: defaultsTo(z.boolean(), false, "A read-only session sees everything and changes nothing"),
    theme: z
      .strictObject({
        accentColor: z
          .string()
          .regex(/^#[0-9a-fA-F]{6}$/, "must be a colour as #rrggbb")
          .optional(),
        logoUrl: z.string().max(2048).optional(),
        mode: z.enum(["light", "dark", "auto"]).optional(),
      })
      .optional()
      .openapi({ description: "Overrides PORTAL_ACCENT_COLOR, PORTAL_LOGO_URL and PORTAL_THEME" }),
  })
  .openapi("PortalSessionCreate");

export const PortalSessionOut = z
  .object({
    url: z.string().openapi({ description: "Absolute link to the portal; its token is in the fragment" }),
    expiresAt: z.string(),
  })
  .openapi("PortalSession");

/** A signed link to the portal for `organizationId`, as the request asked. */
export async function issuePortalSession(
  c: Context<AppEnv>,
  organizationId: OrganizationId,
  body: z.infer<typeof PortalSessionIn> | undefined,
): Promise<z.infer<typeof PortalSessionOut>> {
  const logoUrl = body?.theme?.logoUrl;
  if (logoUrl !== undefined && !checkEndpointUrl(logoUrl, getConfig(c.env)).ok) {
    throw invalid("theme.logoUrl", "must be an https URL");
  }
  const { token, claims } = await signPortalToken(
    c.env,
    { organizationId, readOnly: body?.readOnly ?? false, theme: body?.theme ?? {} },
    body?.expiresInSec ?? DEFAULT_EXPIRES_IN_SEC,
    Date.now(),
  );
  const url = new URL("/portal/enter", c.req.url);
  url.hash = token;
  return { url: url.toString(), expiresAt: new Date(claims.expiresAt * 1000).toISOString() };
}

export const portalSessions = createRouter();
portalSessions.use("*", apiKeyAuth());

portalSessions.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "createPortalSession",
    tags: ["Portal"],
    summary: "A link that opens the customer portal for this organization (a key whose scopes are `*`)",
    security: [{ apiKey: [] }],
    request: { body: optionalJsonBody(PortalSessionIn) },
    responses: {
      201: jsonContent(PortalSessionOut, "Created"),
      ...bodyResponses,
      403: {
        description: "The key's scopes are not `*`, or the request comes from a portal session",
        content: problemContent,
      },
    },
  }),
  async (c) => {
    // A portal session may not open others: a read-only one would make itself a writable one.
    if (c.get("portalSession") || !c.get("apiKeyScopes").includes(ALL_SCOPES)) {
      throw new ServiceError(
        "forbidden",
        "Only an organization key whose scopes are * may open portal sessions",
      );
    }
    return c.json(await issuePortalSession(c, c.get("organizationId"), c.req.valid("json")), 201);
  },
);
