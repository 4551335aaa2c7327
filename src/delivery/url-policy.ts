/**
 * Where deliveries may go (DESIGN.md §3.3): `https://` only, no credentials, and no host that names
 * this machine, a private network or any other reserved address, so an endpoint cannot turn the
 * service into a proxy into someone's internal network. Checked when an endpoint is created or
 * changed and again before every attempt. `ALLOW_INSECURE_URLS` (local development and tests) lifts
 * the https and address rules, never the others.
 */
export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

const BLOCKED_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa", ".localdomain"];

export function checkEndpointUrl(raw: string, allowInsecure: boolean): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "is not a valid absolute URL" };
  }
  if (url.protocol !== "https:" && !(allowInsecure && url.protocol === "http:")) {
    return { ok: false, reason: allowInsecure ? "must use http or https" : "must use https" };
  }
  if (url.username || url.password) return { ok: false, reason: "must not contain credentials" };
  if (allowInsecure) return { ok: true, url };

  // The URL parser has already turned decimal, octal and hex IPv4 forms into dotted quads.
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || BLOCKED_SUFFIXES.some((suffix) => host.endsWith(suffix))) {
    return { ok: false, reason: "must not name a local host" };
  }
  if (!host.includes(".") && !host.startsWith("[")) {
    return { ok: false, reason: "must name a fully qualified host" };
  }
  if (host.startsWith("[") ? isReservedIpv6(host.slice(1, -1)) : isReservedIpv4(host)) {
    return { ok: false, reason: "must not target a private, loopback or reserved address" };
  }
  return { ok: true, url };
}

/** [network, prefix length] of every IPv4 block that is not globally routable (RFC 6890 and others). */
const RESERVED_IPV4: ReadonlyArray<[string, number]> = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
];

function ipv4ToNumber(host: string): number | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** True for a reserved dotted-quad; false for any host name (which is not an IPv4 literal). */
function isReservedIpv4(host: string): boolean {
  const address = ipv4ToNumber(host);
  if (address === null) return false;
  return RESERVED_IPV4.some(([network, bits]) => {
    const size = 2 ** (32 - bits);
    const start = ipv4ToNumber(network) ?? 0;
    return address >= start && address < start + size;
  });
}

/**
 * Only global unicast (2000::/3) is allowed, minus documentation (2001:db8::/32), Teredo (2001::/32)
 * and 6to4 (2002::/16), which embed IPv4 addresses that could be private. Everything else (::1, ::,
 * IPv4-mapped ::ffff:…, ULA fc00::/7, link-local fe80::/10, multicast) is refused.
 */
function isReservedIpv6(address: string): boolean {
  const first = address.split(":")[0] ?? "";
  const firstHextet = first === "" ? 0 : Number.parseInt(first, 16);
  if (firstHextet < 0x2000 || firstHextet > 0x3fff) return true;
  const second = Number.parseInt(address.split(":")[1] || "0", 16);
  if (firstHextet === 0x2001 && (second === 0x0db8 || second === 0)) return true;
  return firstHextet === 0x2002;
}
