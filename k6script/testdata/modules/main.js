// A script that imports local modules, as k6 scripts often do.
import { getStatus, failHere } from "./lib/helpers.js";
import { greeting } from "./lib/shared.js";
import { check } from "k6";

export const options = { vus: 1, iterations: 2 };

export default function () {
  check(getStatus(`${__ENV.BASE_URL}/get`), { "helper request": (s) => s === 200 });
  check(greeting, { "shared module once": (g) => g === "hello from shared" });
  if (__ITER === 1) {
    failHere();
  }
}
