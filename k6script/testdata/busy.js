// Never returns: the engine's gracefulStop must interrupt it.
export const options = {
  scenarios: { busy: { executor: "constant-vus", vus: 1, duration: "1s", gracefulStop: "0s" } },
};

export default function () {
  for (;;) {}
}
