// One scenario per executor, every k6 field set.
export const options = {
  scenarios: {
    a_constant: { executor: "constant-vus", vus: 3, duration: "1m30s", startTime: "10s", gracefulStop: "5s", exec: "browse" },
    b_ramping: {
      executor: "ramping-vus", startVUs: 1, gracefulRampDown: "0s",
      stages: [{ duration: "30s", target: 5 }, { duration: 1500, target: 0 }],
    },
    c_per_vu: { executor: "per-vu-iterations", vus: 2, iterations: 4, maxDuration: "2m" },
    d_shared: { executor: "shared-iterations", vus: 3, iterations: 9, maxDuration: "45s", gracefulStop: 0 },
    e_constant_rate: {
      executor: "constant-arrival-rate", rate: 20, timeUnit: "1m", duration: "1h",
      preAllocatedVUs: 4, maxVUs: 8, exec: "browse",
    },
    f_ramping_rate: {
      executor: "ramping-arrival-rate", startRate: 2, timeUnit: "2s", preAllocatedVUs: 1, maxVUs: 3,
      stages: [{ duration: "10s", target: 10 }],
    },
  },
};

export default function () {}

export function browse() {}
