// A k6 script as k6's documentation writes them: setup logs in once, every iteration fetches
// the home page with the token and checks the answer, teardown logs out. The options ask for
// one VU for ten minutes; the command's flags override them, as k6's do.
import http from "k6/http";
import { check } from "k6";

export const options = {
  vus: 1,
  duration: "10m",
  thresholds: { checks: ["rate==1"] },
  userAgent: "login-script/1.0", // setup's and the load's requests carry it
};

export function setup() {
  const res = http.post(`${__ENV.BASE_URL}/login`, { user: "ada" });
  return { token: res.json().token };
}

export default function (data) {
  const res = http.get(`${__ENV.BASE_URL}/home`, { headers: { Authorization: `Bearer ${data.token}` } });
  check(res, { "the home page greets": (r) => r.body === __ENV.WANT });
}

export function teardown(data) {
  http.del(`${__ENV.BASE_URL}/session`, null, { headers: { Authorization: `Bearer ${data.token}` } });
}
