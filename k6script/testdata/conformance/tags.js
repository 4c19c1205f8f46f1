// Tags as k6's documentation describes them: options.tags on everything the script records,
// scenario tags, request tags, check tags, the group tag of requests and checks inside a
// group, exec.vu.tags, custom metric tags, and thresholds that filter on them.
import http from "k6/http";
import exec from "k6/execution";
import { check, group } from "k6";
import { Counter } from "k6/metrics";

const hits = new Counter("hits");

export const options = {
  tags: { env: "staging" },
  scenarios: {
    shop: { executor: "per-vu-iterations", vus: 1, iterations: 2, tags: { team: "web" } },
  },
  thresholds: {
    "http_reqs{env:staging}": ["count==8"],
    "http_reqs{team:web,kind:api}": ["count==2"],
    "http_reqs{group:::cart}": ["count==2"],
    "http_reqs{group:::cart::pay}": ["count==2"],
    "http_reqs{role:buyer}": ["count==1"],
    "http_req_duration{kind:api}": ["p(95)<10000"],
    "checks{flavor:tagged}": ["rate==1"],
    "checks{group:::cart}": ["rate==1"],
    "hits{env:staging,source:loop}": ["count==2"],
  },
};

export default function () {
  const base = __ENV.BASE_URL;
  http.get(`${base}/get?step=api`, { tags: { kind: "api" } });
  group("cart", function () {
    http.get(`${base}/get?step=cart`);
    check(1, { "in the cart": (v) => v === 1 });
    group("pay", function () {
      http.get(`${base}/get?step=pay`);
    });
  });
  check(exec.vu.tags, {
    "vu tags hold the scenario": (t) => t.scenario === "shop",
  }, { flavor: "tagged" });
  if (__ITER === 1) {
    exec.vu.tags.role = "buyer"; // from here on, what this VU records has role=buyer
  }
  http.get(`${base}/get?step=last`);
  hits.add(1, { source: "loop" });
}
