/**
 * URLs an endpoint must never be allowed to target (docs/security.md#where-deliveries-may-go):
 * this machine, private networks, cloud metadata, other reserved ranges in every spelling the URL
 * parser accepts, credentials, other schemes, other ports; each under the reason the production
 * policy gives for refusing it. Shared by the unit test of the policy and the API tests in the
 * security project.
 */
export const HOSTILE_URLS_BY_REASON: Record<string, readonly string[]> = {
  "must use https": [
    "http://example.com/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://example.com:70/_hook",
    "ws://example.com/hook",
    "javascript:alert(1)",
    "data:text/plain,hook",
  ],
  "must not contain credentials": ["https://user:pass@example.com/hook", "https://user@example.com/hook"],
  "must not name a local host": [
    "https://localhost/hook",
    "https://localhost./hook",
    "https://api.localhost/hook",
    "https://printer.local/hook",
    "https://db.internal/hook",
    "https://router.home.arpa/hook",
  ],
  "must name a fully qualified host": ["https://intranet/hook"],
  "must not target a private, loopback or reserved address": [
    // IPv4 loopback, private, link-local, CGNAT, metadata, reserved
    "https://127.0.0.1/hook",
    "https://10.0.0.1/hook",
    "https://172.16.0.1/hook",
    "https://172.31.255.255/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://169.254.0.1/hook",
    "https://0.0.0.0/hook",
    "https://192.0.0.1/hook",
    "https://198.18.0.1/hook",
    "https://224.0.0.1/hook",
    "https://240.0.0.1/hook",
    "https://255.255.255.255/hook",
    // Other spellings of 127.0.0.1 and 169.254.169.254
    "https://2130706433/hook",
    "https://0x7f000001/hook",
    "https://0x7f.0.0.1/hook",
    "https://0177.0.0.1/hook",
    "https://127.1/hook",
    "https://2852039166/latest/meta-data/",
    "https://0xa9.0xfe.0xa9.0xfe/",
    // IPv6 loopback, unspecified, mapped, ULA, link-local, multicast, documentation, 6to4
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[::ffff:a9fe:a9fe]/hook",
    "https://[fd00::1]/hook",
    "https://[fc00::1]/hook",
    "https://[fe80::1]/hook",
    "https://[ff02::1]/hook",
    "https://[2001:db8::1]/hook",
    "https://[2002:7f00:1::]/hook",
    "https://[3fff::1]/hook",
    "https://[3fff:fff:ffff::1]/hook",
    "https://[64:ff9b::7f00:1]/hook",
    "https://[2001:2::1]/hook",
    "https://[5f00::1]/hook",
  ],
  // Ports other than 443 (ALLOWED_PORTS); the port is checked before the host.
  "must use port 443": [
    "https://example.com:8443/hook",
    "https://example.com:80/hook",
    "https://8.8.8.8:22/hook",
    "https://LOCALHOST:8443/hook",
    "https://127.1.2.3:8080/hook",
  ],
  "is not a valid absolute URL": ["not a url", "//example.com/hook"],
};

/** Every URL of HOSTILE_URLS_BY_REASON. */
export const HOSTILE_URLS: readonly string[] = Object.values(HOSTILE_URLS_BY_REASON).flat();
