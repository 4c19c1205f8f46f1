// The test life cycle as k6's documentation describes it: init code per VU, setup() whose
// return value reaches every iteration and teardown(data), named exec functions per scenario,
// group, check, sleep, __VU, __ITER and k6/execution.
import http from "k6/http";
import { check, group, sleep } from "k6";
import exec from "k6/execution";

const initVU = __VU; // the init code runs in each VU with its id

export const options = {
  scenarios: {
    readers: { executor: "per-vu-iterations", vus: 3, iterations: 2, exec: "read", env: { ROLE: "reader" } },
    writer: { executor: "shared-iterations", vus: 1, iterations: 1, exec: "write", startTime: "100ms", env: { ROLE: "writer" } },
  },
};

export function setup() {
  const res = http.get(`${__ENV.BASE_URL}/get?token=abc`);
  return { token: res.json().args.token, list: [1, 2, 3] };
}

export function read(data) {
  group("browse", function () {
    const res = http.get(`${__ENV.BASE_URL}/get?vu=${__VU}`, { tags: { name: "browse" } });
    check(res, { "status is 200": (r) => r.status === 200 });
  });
  check(data, {
    "setup data reached the VU": (d) => d.token === "abc" && d.list.length === 3,
    "init code ran in this VU": () => initVU === __VU && exec.vu.idInTest === __VU,
    "iteration counts": () => __ITER === exec.vu.iterationInScenario && __ITER < 2,
    "scenario name": () => exec.scenario.name === "readers",
    "scenario env": () => __ENV.ROLE === "reader" && __ENV.BASE_URL !== undefined,
  });
  sleep(0.01);
}

export function write(data) {
  const res = http.post(`${__ENV.BASE_URL}/get`, JSON.stringify(data), { headers: { "Content-Type": "application/json" } });
  check(res, { "writer got data": () => data.token === "abc" && exec.scenario.name === "writer" && __ENV.ROLE === "writer" });
}

export function teardown(data) {
  if (data.token !== "abc") {
    throw new Error("teardown got " + JSON.stringify(data));
  }
  http.get(`${__ENV.BASE_URL}/get?teardown=${data.token}`);
}
