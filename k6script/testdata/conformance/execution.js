// k6/execution as k6's documentation describes it: the VU's, scenario's and instance's
// state, and test.abort().
import http from "k6/http";
import exec from "k6/execution";
import { check, sleep } from "k6";

export const options = {
  scenarios: {
    counted: { executor: "shared-iterations", vus: 2, iterations: 6, exec: "counted" },
    stopper: { executor: "constant-vus", vus: 1, duration: "1m", exec: "stopper", startTime: "500ms" },
  },
};

export function counted() {
  // Each iteration of the scenario has its own number, whichever VU runs it.
  http.get(`${__ENV.BASE_URL}/get?scenario_iter=${exec.scenario.iterationInTest}`);
  check(exec, {
    "scenario executor": (e) => e.scenario.executor === "shared-iterations",
    "scenario startTime": (e) => e.scenario.startTime <= Date.now() && e.scenario.startTime > Date.now() - 60000,
    "iterationInInstance is iterationInTest": (e) => e.scenario.iterationInInstance === e.scenario.iterationInTest,
    "vu iterations": (e) => e.vu.iterationInInstance === e.vu.iterationInScenario && e.vu.iterationInScenario === __ITER,
    "instance": (e) => e.instance.vusActive >= 1 && e.instance.vusInitialized >= e.instance.vusActive &&
      e.instance.iterationsCompleted >= 0 && e.instance.iterationsInterrupted === 0 && e.instance.currentTestRunDuration > 0,
  });
}

export function stopper() {
  // Once the counted scenario's six iterations and two of this one's are done.
  if (exec.scenario.iterationInTest >= 2 && exec.instance.iterationsCompleted >= 8) {
    exec.test.abort("enough");
  }
  sleep(0.05);
}
