// Redirects as k6's documentation describes them: followed up to 10 by default (the final
// URL in response.url), params.redirects limits them and returns the redirect itself.
import http from "k6/http";
import { check } from "k6";

export const options = { vus: 1, iterations: 1 };

export default function () {
  const base = __ENV.BASE_URL;
  check(http.get(`${base}/redirect/3`), {
    "followed": (r) => r.status === 200 && r.url === `${base}/get`,
  });
  check(http.get(`${base}/redirect/3`, { redirects: 0 }), {
    "redirects 0 returns the 302": (r) => r.status === 302 && r.url === `${base}/redirect/3` &&
      r.headers["Location"] === "/redirect/2",
  });
  check(http.get(`${base}/redirect/3`, { redirects: 2 }), {
    "redirects 2 stops at the third": (r) => r.status === 302 && r.url === `${base}/redirect/1`,
  });
  check(http.get(`${base}/redirect/12`), {
    "10 by default": (r) => r.status === 302 && r.url === `${base}/redirect/2`,
  });
}
