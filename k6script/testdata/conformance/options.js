// The HTTP options as k6's documentation describes them: userAgent, noConnectionReuse,
// maxRedirects (params.redirects still wins), insecureSkipTLSVerify.
import http from "k6/http";
import { check } from "k6";

export const options = {
  vus: 1,
  iterations: 1,
  userAgent: "conformance-agent/1.0",
  noConnectionReuse: true,
  maxRedirects: 1,
  insecureSkipTLSVerify: true,
  setupTimeout: "10s",
  teardownTimeout: "10s",
};

export default function () {
  const base = __ENV.BASE_URL;
  check(http.get(`${base}/get`), {
    "userAgent sent": (r) => r.json().headers["User-Agent"] === "conformance-agent/1.0",
  });
  const a = http.get(`${base}/conn`).body;
  const b = http.get(`${base}/conn`).body;
  check(null, { "a new connection per request": () => a !== "" && b !== "" && a !== b });
  check(http.get(`${base}/redirect/2`), {
    "maxRedirects 1 stops at the second": (r) => r.status === 302 && r.url === `${base}/redirect/1`,
  });
  check(http.get(`${base}/redirect/2`, { redirects: 5 }), {
    "params.redirects wins": (r) => r.status === 200 && r.url === `${base}/get`,
  });
  check(http.get(__ENV.TLS_URL), {
    "self-signed TLS accepted": (r) => r.status === 200 && r.error_code === 0,
  });
}
