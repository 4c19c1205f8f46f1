// http.batch as k6's documentation describes it: URLs, arrays and objects, named requests,
// parallel sending, and failed requests beside successful ones.
import http from "k6/http";
import { check } from "k6";

export const options = { vus: 2, iterations: 4 };

export default function () {
  const base = __ENV.BASE_URL;
  const key = `b-${__VU}-${__ITER}`;

  // Four requests that only complete when all four are in flight together.
  const parallel = http.batch([
    `${base}/barrier/${key}?n=4`,
    ["GET", `${base}/barrier/${key}?n=4`],
    { method: "GET", url: `${base}/barrier/${key}?n=4` },
    ["GET", `${base}/barrier/${key}?n=4`, null, { tags: { name: "barrier" } }],
  ]);
  check(parallel, {
    "four responses in order": (rs) => rs.length === 4,
    "sent in parallel": (rs) => rs.every((r) => r.status === 200),
  });

  // Named requests: the responses come back under the same names.
  const named = http.batch({
    front: ["GET", `${base}/get?page=front`],
    missing: { method: "GET", url: `${base}/status/404` },
    posted: ["POST", `${base}/get`, "x"],
  });
  check(named, {
    "named front": (r) => r.front.status === 200 && r.front.json().args.page === "front",
    "named missing": (r) => r.missing.status === 404 && r.missing.error_code === 1404,
    "named posted": (r) => r.posted.status === 200 && r.posted.json().method === "POST",
  });

  // An invalid URL fails that request only.
  const mixed = http.batch([`${base}/get`, "not a url"]);
  check(mixed, {
    "invalid URL fails alone": (rs) => rs[0].status === 200 && rs[1].status === 0 && rs[1].error_code === 1020,
  });
}
