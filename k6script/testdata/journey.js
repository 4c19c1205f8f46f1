// A journey in k6's documented style: setup fetches a token, every iteration calls the
// service with it and checks the answer, teardown reports what setup returned.
import http from "k6/http";
import { check, group, sleep } from "k6";

export const options = {
  scenarios: {
    journey: { executor: "per-vu-iterations", vus: 2, iterations: 3 },
  },
  thresholds: {
    checks: [__ENV.CHECKS_THRESHOLD],
    "http_req_duration{step:home}": ["p(95)<60000"],
    http_reqs: [{ threshold: "count>=6", abortOnFail: false, delayAbortEval: "1s" }],
  },
};

const greeting = open("./greeting.txt").trim();

export function setup() {
  const res = http.get(`${__ENV.BASE_URL}/setup`);
  return { token: res.json().token, vus: [] };
}

export default function (data) {
  const res = http.get(`${__ENV.BASE_URL}/home?vu=${__VU}&iter=${__ITER}`, {
    headers: { "X-Token": data.token, "X-Env": __ENV.TEAM, "X-Greeting": greeting },
    tags: { name: "home" },
  });
  check(res, {
    "status is 200": (r) => r.status === 200,
    "body is nope": (r) => r.body === "nope",
  });
  group("think", function () {
    sleep(0.01);
  });
}

export function teardown(data) {
  http.post(`${__ENV.BASE_URL}/teardown`, JSON.stringify(data), {
    headers: { "Content-Type": "application/json" },
  });
}
