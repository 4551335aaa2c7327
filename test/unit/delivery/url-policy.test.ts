import { describe, expect, it } from "vitest";
import { checkEndpointUrl } from "../../../src/delivery/url-policy";

describe("endpoint URL policy", () => {
  it.each([
    "http://example.com/hook",
    "https://user:pass@example.com/hook",
    "ftp://example.com/hook",
    "https://localhost/hook",
    "https://localhost./hook",
    "https://api.localhost/hook",
    "https://printer.local/hook",
    "https://127.0.0.1/hook",
    "https://2130706433/hook",
    "https://0x7f.1/hook",
    "https://0177.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://0.0.0.0/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[fd00::1]/hook",
    "https://[fe80::1]/hook",
    "https://intranet/hook",
    "not a url",
  ])("refuses %s", (url) => {
    expect(checkEndpointUrl(url, false).ok).toBe(false);
  });

  it.each(["https://example.com/hook", "https://8.8.8.8/hook", "https://[2606:4700::1111]/hook"])(
    "accepts %s",
    (url) => {
      expect(checkEndpointUrl(url, false).ok).toBe(true);
    },
  );

  it("allows http and loopback only when insecure URLs are allowed, never credentials", () => {
    expect(checkEndpointUrl("http://127.0.0.1:8080/hook", true).ok).toBe(true);
    expect(checkEndpointUrl("http://u:p@127.0.0.1/hook", true).ok).toBe(false);
    expect(checkEndpointUrl("file:///etc/passwd", true).ok).toBe(false);
  });
});
