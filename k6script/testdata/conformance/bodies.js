// Response bodies as k6's documentation describes them: discardResponseBodies makes every
// body null unless a request asks for it with responseType, "binary" gives an ArrayBuffer.
import http from "k6/http";
import { check } from "k6";

export const options = { vus: 1, iterations: 1, discardResponseBodies: true };

// open() in the init code: text, and with "b" an ArrayBuffer of the file's bytes.
const text = open("./upload.txt");
const bytes = open("./upload.txt", "b");

export default function () {
  const base = __ENV.BASE_URL;
  check(http.get(`${base}/bytes/100`), {
    "discarded body is null": (r) => r.status === 200 && r.body === null,
  });
  let thrown = "";
  try {
    http.get(`${base}/get`).json();
  } catch (e) {
    thrown = String(e);
  }
  check(thrown, { "json() of a discarded body throws": (t) => t.includes("responseType none") });
  check(http.get(`${base}/get`, { responseType: "text" }), {
    "responseType text keeps it": (r) => typeof r.body === "string" && r.json().method === "GET",
  });
  check(bytes, { "open b is an ArrayBuffer": (b) => b instanceof ArrayBuffer && b.byteLength === text.length });
  check(http.post(`${base}/post`, bytes, { responseType: "text" }), {
    "a binary body is sent as is": (r) => r.json().data === "hello upload\n",
  });
  check(http.get(`${base}/bytes/100`, { responseType: "binary" }), {
    "responseType binary is an ArrayBuffer": (r) => r.body instanceof ArrayBuffer && r.body.byteLength === 100 &&
      new Uint8Array(r.body)[99] === 99,
  });
}
