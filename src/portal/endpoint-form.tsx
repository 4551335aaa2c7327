import type { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { EndpointOut } from "../api/endpoint-schemas";
import { resourceNames, resourceScopeKey } from "../catalog";
import { ORDERINGS, PAYLOAD_FORMATS, SIGNATURE_ALGORITHMS, SIGNATURE_SCHEMES } from "../domain/endpoint";
import { csrfToken, type PortalEnv } from "./guard";
import { SelectField, TextField } from "./layout";

export type EndpointView = z.infer<typeof EndpointOut>;

const SCHEME_NAMES = { standard: "Standard Webhooks", convoy: "Convoy (t=…,v1=…)" } as const;
const ALGORITHM_NAMES = {
  "hmac-sha256": "HMAC-SHA256 (a shared secret)",
  ed25519: "Ed25519 (a public key to verify with)",
} as const;
const FORMAT_NAMES = { full: "Full event", slim: "Slim (ids only)" } as const;
const ORDERING_NAMES = { none: "None", endpoint: "Per endpoint", key: "Per ordering key" } as const;

/** How many new custom headers one form takes at a time. */
const NEW_HEADER_ROWS = 2;

/**
 * The filters a customer picks from: every type of the catalog the API lists, each `prefix.*` above
 * them, and `*`. Rendering choices only: which filters are valid is the API's to say.
 */
export function filterChoices(types: readonly string[]): string[] {
  const prefixes = new Set<string>();
  for (const type of types) {
    const parts = type.split(".");
    for (let i = 1; i < parts.length; i++) prefixes.add(`${parts.slice(0, i).join(".")}.*`);
  }
  return ["*", ...[...prefixes].sort(), ...[...types].sort()];
}

/** The create and edit form; `endpoint` fills it for an edit, `values` keeps what was posted. */
export function EndpointForm({
  c,
  action,
  types,
  endpoint,
  values,
  submit,
}: {
  c: Context<PortalEnv>;
  action: string;
  types: readonly string[];
  endpoint?: EndpointView;
  values?: Record<string, string | string[]>;
  submit: string;
}) {
  const value = (name: string, fallback: string) => {
    const posted = values?.[name];
    return typeof posted === "string" ? posted : fallback;
  };
  const chosen = new Set(
    values ? [values.eventTypeFilters ?? []].flat() : (endpoint?.eventTypeFilters ?? []),
  );
  const scopes = endpoint?.resourceScopes ?? {};
  return (
    <form method="post" action={action} class="stack">
      <input type="hidden" name="_csrf" value={csrfToken(c.get("session"))} />
      <TextField name="url" label="URL" type="url" value={value("url", endpoint?.url ?? "")} required />
      <TextField
        name="description"
        label="Description"
        value={value("description", endpoint?.description ?? "")}
      />
      <fieldset>
        <legend>Event types</legend>
        <div class="checks">
          {filterChoices(types).map((filter, i) => (
            <label for={`filter-${i}`}>
              <input
                id={`filter-${i}`}
                type="checkbox"
                name="eventTypeFilters"
                value={filter}
                checked={chosen.has(filter)}
              />
              <code>{filter}</code>
            </label>
          ))}
        </div>
      </fieldset>
      <div>
        <label for="payloadFilter">
          Payload filter, JSON (empty: every event the types select), e.g.{" "}
          <code>{'{"path": "$.status", "in": ["open", "pending"]}'}</code>
        </label>
        <textarea id="payloadFilter" name="payloadFilter" rows={4} class="mono">
          {value(
            "payloadFilter",
            endpoint?.payloadFilter ? JSON.stringify(endpoint.payloadFilter, null, 2) : "",
          )}
        </textarea>
      </div>
      <fieldset>
        <legend>Resources (empty: any)</legend>
        {resourceNames.map((name) => {
          const key = resourceScopeKey(name);
          return (
            <div>
              <label for={`scope-${key}`}>{`${name} ids, comma-separated`}</label>
              <input
                id={`scope-${key}`}
                name={`scope.${key}`}
                value={value(`scope.${key}`, (scopes[key] ?? []).join(", "))}
              />
            </div>
          );
        })}
      </fieldset>
      <SelectField
        name="signatureScheme"
        label="Signature scheme"
        options={SIGNATURE_SCHEMES.map((scheme) => [scheme, SCHEME_NAMES[scheme]] as const)}
        selected={value("signatureScheme", endpoint?.signatureScheme ?? "standard")}
      />
      {!endpoint && (
        <SelectField
          name="signatureAlgorithm"
          label="Signature algorithm (standard scheme)"
          options={SIGNATURE_ALGORITHMS.map((algorithm) => [algorithm, ALGORITHM_NAMES[algorithm]] as const)}
          selected={value("signatureAlgorithm", "hmac-sha256")}
        />
      )}
      <SelectField
        name="payloadFormat"
        label="Payload format"
        options={PAYLOAD_FORMATS.map((format) => [format, FORMAT_NAMES[format]] as const)}
        selected={value("payloadFormat", endpoint?.payloadFormat ?? "full")}
      />
      <SelectField
        name="ordering"
        label="Ordering"
        options={ORDERINGS.map((ordering) => [ordering, ORDERING_NAMES[ordering]] as const)}
        selected={value("ordering", endpoint?.ordering ?? "none")}
      />
      <p class="hint">
        Per endpoint or per ordering key: one delivery at a time, in the order events were accepted. None: in
        parallel, fastest.
      </p>
      <TextField
        name="rateLimitPerSecond"
        label="Rate limit, deliveries per second (empty: none)"
        value={value("rateLimitPerSecond", String(endpoint?.rateLimitPerSecond ?? ""))}
        numeric
      />
      <TextField
        name="timeoutMs"
        label="Timeout, ms (empty: the service's)"
        value={value("timeoutMs", String(endpoint?.timeoutMs ?? ""))}
        numeric
      />
      <TextField
        name="retrySchedule"
        label="Retry schedule, seconds before each retry, comma-separated (empty: the service's)"
        value={value("retrySchedule", endpoint?.retrySchedule?.join(", ") ?? "")}
      />
      <fieldset>
        <legend>Custom headers</legend>
        {Object.entries(endpoint?.headers ?? {}).map(([name, masked], i) => (
          <div class="checks">
            <span>
              <code>{name}</code>: <span class="mono">{masked}</span>
            </span>
            <label for={`remove-header-${i}`}>
              <input id={`remove-header-${i}`} type="checkbox" name="removeHeader" value={name} /> Remove
            </label>
          </div>
        ))}
        {Array.from({ length: NEW_HEADER_ROWS }, (_, i) => (
          <div class="checks">
            <div>
              <label for={`header-name-${i}`}>Header name</label>
              <input
                id={`header-name-${i}`}
                name="headerName"
                value={[values?.headerName ?? []].flat()[i] ?? ""}
              />
            </div>
            <div>
              <label for={`header-value-${i}`}>Value</label>
              <input id={`header-value-${i}`} name="headerValue" type="password" autocomplete="off" />
            </div>
          </div>
        ))}
      </fieldset>
      <div>
        <button type="submit">{submit}</button>
      </div>
    </form>
  );
}

/** The API body a posted form stands for; `creating` leaves out what a create cannot take. */
export function endpointBody(
  form: Record<string, string | string[]>,
  creating: boolean,
): Record<string, unknown> {
  const list = (name: string) => [form[name] ?? []].flat().filter((v) => v !== "");
  const text = (name: string) => (typeof form[name] === "string" ? (form[name] as string).trim() : "");
  // Anything but digits goes to the API as it was typed, for it to refuse by name.
  const optionalNumber = (name: string) =>
    text(name) === "" ? null : /^\d+$/.test(text(name)) ? Number(text(name)) : text(name);
  const resourceScopes: Record<string, string[]> = {};
  for (const name of resourceNames) {
    const key = resourceScopeKey(name);
    const ids = text(`scope.${key}`)
      .split(",")
      .map((id) => id.trim())
      .filter((id) => id !== "");
    if (ids.length > 0) resourceScopes[key] = ids;
  }
  const headers: Record<string, string | null> = {};
  const names = list("headerName");
  const values = [form.headerValue ?? []].flat();
  [form.headerName ?? []].flat().forEach((name, i) => {
    if (name.trim() !== "") headers[name.trim()] = values[i] ?? "";
  });
  if (!creating) for (const name of list("removeHeader")) headers[name] = null;
  return {
    url: text("url"),
    description: text("description"),
    eventTypeFilters: list("eventTypeFilters"),
    resourceScopes,
    payloadFilter: text("payloadFilter") === "" ? null : parsedOrAsTyped(text("payloadFilter")),
    signatureScheme: text("signatureScheme"),
    ...(creating ? { signatureAlgorithm: text("signatureAlgorithm") } : {}),
    payloadFormat: text("payloadFormat"),
    ordering: text("ordering"),
    rateLimitPerSecond: optionalNumber("rateLimitPerSecond"),
    timeoutMs: optionalNumber("timeoutMs"),
    retrySchedule:
      text("retrySchedule") === ""
        ? null
        : text("retrySchedule")
            .split(",")
            .map((step) => (/^\d+$/.test(step.trim()) ? Number(step.trim()) : step.trim())),
    ...(names.length > 0 || !creating ? { headers } : {}),
  };
}

/** JSON typed into the form, or the text itself for the API to refuse by name. */
function parsedOrAsTyped(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
