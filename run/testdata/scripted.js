// Users of the pipeline's scripted profile, in k6's style: setup signs in once, every
// iteration lists the videos with the token, teardown signs out. __ENV.BASE_URL is the
// platform's address the run gives. The options are the profile scenario's business.
import http from "k6/http";
import { check, sleep } from "k6";

export const options = { vus: 50, duration: "1h" };

export function setup() {
  http.post(`${__ENV.BASE_URL}/v1/sessions`);
  return { token: "from-setup" };
}

export function browse(data) {
  const res = http.get(`${__ENV.BASE_URL}/v1/videos?token=${data.token}&vu=${__VU}`, { tags: { name: "list" } });
  check(res, { "listed": (r) => r.status === 200 });
  sleep(0.02);
}

export function teardown(data) {
  http.del(`${__ENV.BASE_URL}/v1/sessions?token=${data.token}`);
}
