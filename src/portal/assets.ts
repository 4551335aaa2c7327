/**
 * The portal's only stylesheet and script, served from its own origin (the Content-Security-Policy
 * allows nothing else). The script does two things the server cannot: hand the link's token, which
 * stays in the fragment so no server log sees it, to the session exchange, and copy a shown secret.
 */
export const PORTAL_JS = `
document.addEventListener("DOMContentLoaded", () => {
  const enter = document.getElementById("enter");
  if (enter) {
    const token = location.hash.slice(1);
    history.replaceState(null, "", location.pathname);
    if (token) {
      enter.elements.token.value = token;
      enter.submit();
    } else {
      document.getElementById("no-token").hidden = false;
    }
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      field.select();
      try {
        await navigator.clipboard.writeText(field.value);
      } catch {
        document.execCommand("copy");
      }
      button.textContent = "Copied";
    });
  }
});
`;

export const PORTAL_CSS = `
:root { color-scheme: light dark; --bg: #fff; --fg: #111827; --muted: #4b5563; --line: #d1d5db;
  --panel: #f9fafb; --danger: #b91c1c; --ok: #166534; font-family: system-ui, sans-serif; }
@media (prefers-color-scheme: dark) { :root:not([data-theme=light]) { --bg: #111827; --fg: #f9fafb;
  --muted: #d1d5db; --line: #374151; --panel: #1f2937; --danger: #fca5a5; --ok: #86efac; } }
:root[data-theme=dark] { --bg: #111827; --fg: #f9fafb; --muted: #d1d5db; --line: #374151;
  --panel: #1f2937; --danger: #fca5a5; --ok: #86efac; }
body { margin: 0; background: var(--bg); color: var(--fg); line-height: 1.5; }
a { color: var(--fg); text-decoration-color: var(--accent); text-underline-offset: 3px; }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible {
  outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px; }
.top { display: flex; align-items: center; gap: 16px; padding: 8px 16px; border-bottom: 3px solid var(--accent); flex-wrap: wrap; }
.top ul { display: flex; gap: 16px; list-style: none; margin: 0; padding: 0; flex-wrap: wrap; }
.top a[aria-current=page] { font-weight: 700; }
.logo { max-height: 32px; }
.badge { border: 1px solid var(--line); border-radius: 999px; padding: 0 8px; font-size: 0.85em; }
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
table { border-collapse: collapse; width: 100%; display: block; overflow-x: auto; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
code, .mono { font-family: ui-monospace, monospace; font-size: 0.9em; word-break: break-all; }
form.filters, form.stack { display: grid; gap: 10px; margin: 12px 0; }
form.filters { grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); align-items: end; }
label { font-weight: 600; display: block; }
fieldset { border: 1px solid var(--line); padding: 8px 12px; }
input, select, textarea { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--muted);
  padding: 6px; width: 100%; box-sizing: border-box; }
input[type=checkbox] { width: auto; }
.checks { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 4px; }
.checks label { font-weight: 400; display: flex; gap: 6px; align-items: center; }
button, .button { font: inherit; background: var(--accent); color: #fff; border: 0; padding: 8px 14px;
  border-radius: 6px; cursor: pointer; text-decoration: none; display: inline-block; }
button.danger { background: var(--danger); color: var(--bg); }
form.action { display: inline-flex; gap: 8px; align-items: end; margin: 4px 8px 4px 0; flex-wrap: wrap; }
.actions { display: flex; flex-wrap: wrap; gap: 4px; margin: 12px 0; }
.panel { background: var(--panel); border: 1px solid var(--line); padding: 12px; margin: 12px 0; border-radius: 6px; }
.problem { border-left: 4px solid var(--danger); padding: 4px 12px; background: var(--panel); }
.notice { border-left: 4px solid var(--ok); padding: 4px 12px; background: var(--panel); }
.status-active, .status-delivered { color: var(--ok); }
.status-auto_disabled, .status-failed, .status-disabled { color: var(--danger); }
.copy-row { display: flex; gap: 8px; } .hint, .empty { color: var(--muted); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; } dt { font-weight: 600; } dd { margin: 0; }
pre { white-space: pre-wrap; word-break: break-word; background: var(--panel); padding: 8px; overflow-x: auto; }
@media (max-width: 600px) { dl { grid-template-columns: 1fr; } main { padding: 8px; } }
`;
