// Every k6/http verb, form bodies, response fields and transport errors.
import http from "k6/http";
import { check, fail } from "k6";

export const options = { vus: 1, iterations: 1 };

export default function () {
  const base = __ENV.BASE_URL;
  const get = http.get(`${base}/echo`, { tags: { name: "echo-get" }, timeout: "5s" });
  const body = get.json();
  const { method, ...rest } = body; // modern syntax, lowered by esbuild
  const kind = rest?.contentType ?? "none";
  check(get, {
    "get status": (r) => r.status === 200,
    "get method": () => method === "GET" && kind === "",
    "get header canonical": (r) => r.headers["X-Echo"] === "yes",
    "get timings": (r) => typeof r.timings.duration === "number" && r.timings.duration >= 0,
    "get url": (r) => r.url === `${base}/echo`,
  });
  const form = http.post(`${base}/echo`, { a: 1, b: "x y" });
  check(form.json(), {
    "form body": (j) => j.body === "a=1&b=x+y",
    "form type": (j) => j.contentType === "application/x-www-form-urlencoded",
  });
  const put = http.put(`${base}/echo`, "raw", { headers: { "Content-Type": "text/plain" } });
  check(put.json(), { "put body": (j) => j.method === "PUT" && j.body === "raw" });
  check(http.patch(`${base}/echo`, "p").json(), { "patch": (j) => j.method === "PATCH" });
  check(http.del(`${base}/echo`).json(), { "del": (j) => j.method === "DELETE" && j.body === "" });
  check(http.head(`${base}/echo`), { "head": (r) => r.status === 200 && r.body === "" });
  check(http.options(`${base}/echo`).json(), { "options": (j) => j.method === "OPTIONS" });
  check(http.request("post", `${base}/echo`, "q", { timeout: 5000 }).json(), {
    "request": (j) => j.method === "POST" && j.body === "q",
  });
  check(http.get(`${base}/missing`), { "404 code": (r) => r.status === 404 && r.error_code === 1404 });
  const down = http.get(__ENV.DOWN_URL);
  check(down, {
    "down status 0": (r) => r.status === 0,
    "down error": (r) => r.error !== "" && r.error_code === 1210,
  });
  check(get, { "json selector": (r) => r.json("method") === "GET" && r.json("no.such.path") === undefined });
  if (get.status !== 200) {
    fail("unexpected status " + get.status);
  }
}
