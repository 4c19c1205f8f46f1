// k6/encoding and k6/execution as k6's documentation uses them.
import http from "k6/http";
import encoding from "k6/encoding";
import exec from "k6/execution";
import { b64decode } from "k6/encoding";

export const options = {
  scenarios: { named: { executor: "per-vu-iterations", vus: 2, iterations: 2 } },
};

export default function () {
  const token = encoding.b64encode("ada:secret");
  const back = b64decode(encoding.b64encode("héllo", "rawurl"), "rawurl", "s");
  const bytes = new Uint8Array(b64decode("AQID"));
  http.get(`${__ENV.BASE_URL}/x?scenario=${exec.scenario.name}&vu=${exec.vu.idInTest}` +
    `&iter=${exec.vu.iterationInScenario}&token=${token}&back=${encodeURIComponent(back)}&bytes=${bytes.join("-")}`);
}

export function abort() {
  exec.test.abort();
}

export function testOptions() {
  return exec.test.options;
}

export function vuMetrics() {
  return exec.vu.metrics;
}

export function base32() {
  return encoding.b64encode("x", "base32");
}
