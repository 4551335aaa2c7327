import { describe, expect, it } from "vitest";
import { checkEndpointUrl } from "../../../src/delivery/url-policy";
import { HOSTILE_URLS } from "../../support/hostile-urls";

describe("endpoint URL policy", () => {
  it("has a table of at least 40 hostile URLs", () => {
    expect(HOSTILE_URLS.length).toBeGreaterThanOrEqual(40);
  });

  it.each(HOSTILE_URLS)("refuses %s", (url) => {
    expect(checkEndpointUrl(url, false).ok).toBe(false);
  });

  it.each([
    "https://example.com/hook",
    "https://hooks.example.com:8443/a/b?c=d",
    "https://8.8.8.8/hook",
    "https://[2606:4700::1111]/hook",
  ])("accepts %s", (url) => {
    expect(checkEndpointUrl(url, false).ok).toBe(true);
  });

  it("allows http and loopback only when insecure URLs are allowed, never credentials or other schemes", () => {
    expect(checkEndpointUrl("http://127.0.0.1:8080/hook", true).ok).toBe(true);
    expect(checkEndpointUrl("http://u:p@127.0.0.1/hook", true).ok).toBe(false);
    expect(checkEndpointUrl("file:///etc/passwd", true).ok).toBe(false);
  });
});
