// Each iteration fails in a different way, by __ITER.
import http from "k6/http";
import * as k6 from "k6";

export const options = { scenarios: { fail: { executor: "shared-iterations", vus: 1, iterations: 7 } } };

export default function () {
  switch (__ITER) {
    case 0:
      http.file("data", "a.txt");
      break;
    case 1:
      k6.randomSeed(1);
      break;
    case 2:
      throw new Error("boom in iteration 2");
    case 3:
      k6.fail("failed on purpose");
    case 4:
      open("./greeting.txt");
      break;
    case 5:
      k6.check(1, { "is one": (v) => v === 1 }, { status: "smoke" });
      break;
    case 6:
      http.get(__ENV.BASE_URL, { auth: "digest" });
      break;
  }
}

// Run by TestAsyncAndResponseFields.
export async function asyncOK() {
  const v = await Promise.resolve(41);
  if (v + 1 !== 42) throw new Error("await gave " + v);
}

export async function asyncRejects() {
  await Promise.resolve();
  throw new Error("async boom");
}

export async function asyncPending() {
  await new Promise(() => {});
}

export function responseField() {
  const res = http.get(`${__ENV.BASE_URL}/x`);
  return res.remote_ip;
}
