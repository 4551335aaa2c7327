import { describe, expect, it } from "vitest";
import { checkEndpointUrl, type UrlPolicy } from "../../../src/delivery/url-policy";
import { HOSTILE_URLS_BY_REASON } from "../../support/hostile-urls";

const production: UrlPolicy = { allowInsecureUrls: false, allowedPorts: [443] };
const insecure: UrlPolicy = { allowInsecureUrls: true, allowedPorts: [443] };

describe("endpoint URL policy", () => {
  it.each(
    Object.entries(HOSTILE_URLS_BY_REASON).flatMap(([reason, urls]) => urls.map((url) => [url, reason])),
  )("refuses %s: %s", (url, reason) => {
    expect(checkEndpointUrl(url, production)).toEqual({ ok: false, reason });
  });

  it("refuses a local name or a reserved address on any port the operator allows", () => {
    const more = { allowInsecureUrls: false, allowedPorts: [443, 8080, 8443] };
    expect(checkEndpointUrl("https://LOCALHOST:8443/hook", more)).toEqual({
      ok: false,
      reason: "must not name a local host",
    });
    expect(checkEndpointUrl("https://127.1.2.3:8080/hook", more)).toEqual({
      ok: false,
      reason: "must not target a private, loopback or reserved address",
    });
  });

  it.each([
    "https://example.com/hook",
    "https://hooks.example.com:443/a/b?c=d",
    "https://8.8.8.8/hook",
    "https://[2606:4700::1111]/hook",
    // Just outside the reserved blocks on either side.
    "https://[3ffe:ffff::1]/hook",
    "https://[3fff:1000::1]/hook",
    "https://[2001:200::1]/hook",
    "https://100.128.0.1/hook",
    "https://172.32.0.1/hook",
  ])("accepts %s", (url) => {
    expect(checkEndpointUrl(url, production).ok).toBe(true);
  });

  it("accepts only port 443 unless the operator allows more", () => {
    expect(checkEndpointUrl("https://example.com:8443/hook", production)).toEqual({
      ok: false,
      reason: "must use port 443",
    });
    const more = { allowInsecureUrls: false, allowedPorts: [443, 8443] };
    expect(checkEndpointUrl("https://example.com:8443/hook", more).ok).toBe(true);
    expect(checkEndpointUrl("https://example.com/hook", more).ok).toBe(true);
    expect(checkEndpointUrl("https://example.com:9443/hook", more)).toEqual({
      ok: false,
      reason: "must use port 443 or 8443",
    });
  });

  it("allows http, other ports and loopback only when insecure URLs are allowed, never credentials or other schemes", () => {
    expect(checkEndpointUrl("http://127.0.0.1:8080/hook", insecure).ok).toBe(true);
    expect(checkEndpointUrl("https://[3fff::1]:9000/hook", insecure).ok).toBe(true);
    expect(checkEndpointUrl("http://u:p@127.0.0.1/hook", insecure).ok).toBe(false);
    expect(checkEndpointUrl("file:///etc/passwd", insecure).ok).toBe(false);
  });
});
