import type { Context } from "hono";
import { raw } from "hono/html";
import type { Child } from "hono/jsx";
import { getConfig } from "../config";
import type { Problem } from "./api-client";
import { csrfToken, type PortalEnv } from "./guard";

/** The portal's look for this session: the session's theme over the PORTAL_* vars. */
function themeOf(c: Context<PortalEnv>) {
  const defaults = getConfig(c.env).portal;
  const theme = c.get("session")?.theme ?? {};
  return {
    accentColor: theme.accentColor ?? defaults.accentColor,
    logoUrl: theme.logoUrl ?? defaults.logoUrl,
    mode: theme.mode ?? defaults.theme,
  };
}

const NAV = [
  { href: "/portal/endpoints", label: "Endpoints" },
  { href: "/portal/deliveries", label: "Deliveries" },
  { href: "/portal/event-types", label: "Event types" },
] as const;

/** Every page: the header with its navigation, the page's heading, a notice, then its content. */
export function Page({
  c,
  title,
  notice,
  children,
}: {
  c: Context<PortalEnv>;
  title: string;
  notice?: string | undefined;
  children?: Child;
}) {
  const theme = themeOf(c);
  const session = c.get("session");
  const current = new URL(c.req.url).pathname;
  return (
    <>
      {raw("<!doctype html>")}
      <html lang="en" data-theme={theme.mode}>
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{`${title} · Webhooks`}</title>
          <link rel="stylesheet" href="/portal/assets/portal.css" />
          <style nonce={c.get("nonce")}>{`:root { --accent: ${theme.accentColor}; }`}</style>
          <script src="/portal/assets/portal.js" defer />
        </head>
        <body>
          <a class="skip" href="#main">
            Skip to content
          </a>
          {session && (
            <header class="top">
              {theme.logoUrl ? <img class="logo" src={theme.logoUrl} alt="" /> : null}
              <nav aria-label="Portal">
                <ul>
                  {NAV.map((item) => (
                    <li>
                      <a href={item.href} aria-current={current.startsWith(item.href) ? "page" : undefined}>
                        {item.label}
                      </a>
                    </li>
                  ))}
                </ul>
              </nav>
              {session.readOnly && <span class="badge">Read only</span>}
            </header>
          )}
          <main id="main">
            <h1>{title}</h1>
            {notice && (
              <p class="notice" role="status">
                {notice}
              </p>
            )}
            {children}
          </main>
        </body>
      </html>
    </>
  );
}

/** A form that changes something: posted with the session's CSRF token; absent for a read-only session. */
export function ActionForm({
  c,
  action,
  label,
  danger,
  children,
}: {
  c: Context<PortalEnv>;
  action: string;
  label: string;
  danger?: boolean;
  children?: Child;
}) {
  if (c.get("session").readOnly) return null;
  return (
    <form method="post" action={action} class="action">
      <input type="hidden" name="_csrf" value={csrfToken(c.get("session"))} />
      {children}
      <button type="submit" class={danger ? "danger" : undefined}>
        {label}
      </button>
    </form>
  );
}

/** A labelled text input named and identified `name`. */
export function TextField({
  name,
  label,
  value,
  type = "text",
  numeric,
  required,
}: {
  name: string;
  label: string;
  value: string;
  type?: "text" | "url" | "datetime-local";
  numeric?: boolean;
  required?: boolean;
}) {
  return (
    <div>
      <label for={name}>{label}</label>
      <input
        id={name}
        name={name}
        type={type}
        value={value}
        required={required}
        inputmode={numeric ? "numeric" : undefined}
      />
    </div>
  );
}

/** A labelled choice among `options` (value, and how it reads), `selected` chosen. */
export function SelectField({
  name,
  label,
  options,
  selected,
}: {
  name: string;
  label: string;
  options: readonly (readonly [value: string, text: string])[];
  selected: string | undefined;
}) {
  return (
    <div>
      <label for={name}>{label}</label>
      <select id={name} name={name}>
        {options.map(([value, text]) => (
          <option value={value} selected={value === selected}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** What the API refused, with each field's reason. */
export function ProblemBox({ problem }: { problem: Problem | undefined }) {
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <p>
        <strong>{problem.title}</strong>
        {problem.detail && problem.detail !== problem.title ? `: ${problem.detail}` : ""}
      </p>
      {problem.errors && problem.errors.length > 0 && (
        <ul>
          {problem.errors.map((e) => (
            <li>
              <code>{e.path || "body"}</code> {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A value shown once (a signing secret), with a button that copies it. */
export function Secret({ label, value }: { label: string; value: string }) {
  return (
    <div class="secret">
      <label for="secret-value">{label}</label>
      <div class="copy-row">
        <input id="secret-value" readonly value={value} />
        <button type="button" data-copy="secret-value">
          Copy
        </button>
      </div>
      <p class="hint">Shown once: keep it in your receiver's configuration now.</p>
    </div>
  );
}

export const when = (iso: string | null | undefined) =>
  iso ? iso.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "—";

/** A page the API would not give: its problem, with the API's status. */
export function failed(c: Context<PortalEnv>, title: string, problem: Problem) {
  return c.html(
    <Page c={c} title={title}>
      <ProblemBox problem={problem} />
      <p>
        <a href="/portal/endpoints">Back to the endpoints</a>
      </p>
    </Page>,
    problem.status as 404,
  );
}
