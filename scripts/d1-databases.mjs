// The D1 databases wrangler.toml binds, for the scripts that create and migrate them (dev.mjs,
// local-stack.mjs, deploy.mjs): the control plane's `DB`, then the data plane's shards
// `DB_SHARD_0…N` (docs/scale.md), each with the migrations wrangler.toml gives it.

/** Every `[[d1_databases]]` block, in order: `{ binding, name, id }`. */
export function d1Databases(configText) {
  return configText
    .split(/^\[\[d1_databases\]\]\s*$/m)
    .slice(1)
    .map((rest) => {
      const block = rest.split(/^\[/m)[0];
      const field = (key) => block.match(new RegExp(`^${key}\\s*=\\s*"([^"]+)"`, "m"))?.[1];
      return { binding: field("binding"), name: field("database_name"), id: field("database_id") };
    });
}

/** The ids wrangler.toml ships with, for local development, until `npm run deploy` replaces them. */
export const isPlaceholderId = (id) => /^00000000-0000-4000-8000-\d{12}$/.test(id ?? "");
