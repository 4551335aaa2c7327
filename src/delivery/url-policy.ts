import type { Config } from "../config";

/**
 * Where deliveries may go (docs/security.md#where-deliveries-may-go): `https://` only, on an allowed port
 * (443 unless `ALLOWED_PORTS` lists more), no credentials, and no host that names this machine, a
 * private network or any other reserved address, so an endpoint cannot turn the service into a proxy
 * into someone's internal network. Checked when an endpoint is created or changed and again before
 * every attempt. `ALLOW_INSECURE_URLS` (local development and tests) lifts the https, port and
 * address rules, never the others. Host names are not resolved here: what a name resolves to is the
 * platform's egress to police (docs/security.md).
 */
export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };
export type UrlPolicy = Pick<Config, "allowInsecureUrls" | "allowedPorts">;

const BLOCKED_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa", ".localdomain"];

export function checkEndpointUrl(raw: string, policy: UrlPolicy): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "is not a valid absolute URL" };
  }
  const insecure = policy.allowInsecureUrls;
  if (url.protocol !== "https:" && !(insecure && url.protocol === "http:")) {
    return { ok: false, reason: insecure ? "must use http or https" : "must use https" };
  }
  if (url.username || url.password) return { ok: false, reason: "must not contain credentials" };
  if (insecure) return { ok: true, url };

  // The parser leaves the port empty when it is the scheme's default (443 for https).
  const port = url.port === "" ? 443 : Number(url.port);
  if (!policy.allowedPorts.includes(port)) {
    return { ok: false, reason: `must use port ${policy.allowedPorts.join(" or ") || "443"}` };
  }
  // The URL parser has already turned decimal, octal and hex IPv4 forms into dotted quads, and IPv6
  // literals into lower-case hextets.
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || BLOCKED_SUFFIXES.some((suffix) => host.endsWith(suffix))) {
    return { ok: false, reason: "must not name a local host" };
  }
  if (!host.includes(".") && !host.startsWith("[")) {
    return { ok: false, reason: "must name a fully qualified host" };
  }
  const address = host.startsWith("[") ? ipv6Bytes(host.slice(1, -1)) : ipv4Bytes(host);
  if (address && isReserved(address)) {
    return { ok: false, reason: "must not target a private, loopback or reserved address" };
  }
  return { ok: true, url };
}

/**
 * Every block an endpoint may not target, IPv4 and IPv6, with its source. From the IANA IPv4 and
 * IPv6 Special-Purpose Address Registries (RFC 6890), the blocks that are not globally reachable or
 * that embed an IPv4 address (which could be a private one); for IPv6, everything outside global
 * unicast 2000::/3 too. Blocks the registries mark globally reachable (AS112, AMT) are allowed.
 */
const RESERVED_RANGES: readonly string[] = [
  // IPv4
  "0.0.0.0/8", // "this network" (RFC 791 §3.2, RFC 1122 §3.2.1.3)
  "10.0.0.0/8", // private use (RFC 1918)
  "100.64.0.0/10", // shared address space, carrier-grade NAT (RFC 6598)
  "127.0.0.0/8", // loopback (RFC 1122 §3.2.1.3)
  "169.254.0.0/16", // link local, cloud metadata services (RFC 3927)
  "172.16.0.0/12", // private use (RFC 1918)
  "192.0.0.0/24", // IETF protocol assignments (RFC 6890 §2.1)
  "192.0.2.0/24", // documentation, TEST-NET-1 (RFC 5737)
  "192.88.99.0/24", // deprecated 6to4 relay anycast (RFC 7526)
  "192.168.0.0/16", // private use (RFC 1918)
  "198.18.0.0/15", // benchmarking (RFC 2544)
  "198.51.100.0/24", // documentation, TEST-NET-2 (RFC 5737)
  "203.0.113.0/24", // documentation, TEST-NET-3 (RFC 5737)
  "224.0.0.0/4", // multicast (RFC 5771, IANA Multicast Address Space registry)
  "240.0.0.0/4", // reserved, and 255.255.255.255 limited broadcast (RFC 1112 §4, RFC 919)
  // IPv6: outside global unicast 2000::/3 (RFC 4291 §2.4, IANA IPv6 Address Space registry)
  "::/3", // unspecified, loopback, IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96 (RFC 6052), discard 100::/64 (RFC 6666)
  "4000::/2", // unassigned; SRv6 SIDs 5f00::/16 (RFC 9602)
  "8000::/1", // unassigned; unique local fc00::/7 (RFC 4193), link local fe80::/10 and multicast ff00::/8 (RFC 4291)
  // IPv6: inside 2000::/3
  "2001::/23", // IETF protocol assignments (RFC 2928), Teredo 2001::/32 (RFC 4380), benchmarking (RFC 5180)
  "2001:db8::/32", // documentation (RFC 3849)
  "2002::/16", // 6to4, embeds an IPv4 address (RFC 3056)
  "3fff::/20", // documentation (RFC 9637)
];

type Block = { network: Uint8Array; bits: number };

const BLOCKS: readonly Block[] = RESERVED_RANGES.map((cidr) => {
  const [address = "", bits = ""] = cidr.split("/");
  const network = address.includes(":") ? ipv6Bytes(address) : ipv4Bytes(address);
  if (!network) throw new Error(`bad reserved range ${cidr}`);
  return { network, bits: Number(bits) };
});

function isReserved(address: Uint8Array): boolean {
  return BLOCKS.some(
    ({ network, bits }) => network.length === address.length && samePrefix(network, address, bits),
  );
}

function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; i * 8 < bits; i++) {
    const mask = bits - i * 8 >= 8 ? 0xff : (0xff << (8 - (bits - i * 8))) & 0xff;
    if (((a[i] ?? 0) & mask) !== ((b[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** A dotted quad's four bytes; null for anything else (a host name). */
function ipv4Bytes(host: string): Uint8Array | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return Uint8Array.from(parts, Number);
}

/** An IPv6 literal in hextets (as the URL parser writes it, `::` allowed) as 16 bytes; null if malformed. */
function ipv6Bytes(literal: string): Uint8Array | null {
  const [head = "", tail, extra] = literal.split("::");
  if (extra !== undefined) return null;
  const hextets = (part: string) => (part === "" ? [] : part.split(":"));
  const left = hextets(head);
  const right = tail === undefined ? [] : hextets(tail);
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const all = [...left, ...Array<string>(missing).fill("0"), ...right];
  if (!all.every((h) => /^[0-9a-f]{1,4}$/i.test(h))) return null;
  return Uint8Array.from(all.flatMap((h) => [Number.parseInt(h, 16) >> 8, Number.parseInt(h, 16) & 0xff]));
}
