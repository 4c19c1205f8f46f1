// Thresholds as k6's documentation describes them: k6's tag names in filters, every
// aggregation, and abortOnFail with delayAbortEval.
import http from "k6/http";
import { check } from "k6";

export const options = {
  scenarios: {
    users: { executor: "constant-vus", vus: 2, duration: "30s" },
  },
  thresholds: {
    "http_req_duration{name:front}": ["p(95)<5000", "avg<5000", "max<10000", "med<5000", "min>=0"],
    "http_reqs{status:200}": ["count>0"],
    "http_req_failed{name:front}": ["rate==0"],
    "checks{check:front ok}": ["rate==1"],
    // The missing page fails every time: the run stops once delayAbortEval has passed.
    "checks{check:missing ok}": [{ threshold: "rate>0.9", abortOnFail: true, delayAbortEval: "1s" }],
  },
};

export default function () {
  const base = __ENV.BASE_URL;
  check(http.get(`${base}/get`, { tags: { name: "front" } }), { "front ok": (r) => r.status === 200 });
  check(http.get(`${base}/status/404`, { tags: { name: "missing" } }), { "missing ok": (r) => r.status === 200 });
}
