import { describe, expect, it } from "vitest";
import { checkEndpointUrl, type UrlPolicy } from "../../../src/delivery/url-policy";
import { HOSTILE_URLS } from "../../support/hostile-urls";

const production: UrlPolicy = { allowInsecureUrls: false, allowedPorts: [443] };
const insecure: UrlPolicy = { allowInsecureUrls: true, allowedPorts: [443] };

describe("endpoint URL policy", () => {
  it("has a table of at least 40 hostile URLs", () => {
    expect(HOSTILE_URLS.length).toBeGreaterThanOrEqual(40);
  });

  it.each(HOSTILE_URLS)("refuses %s", (url) => {
    expect(checkEndpointUrl(url, production).ok).toBe(false);
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
