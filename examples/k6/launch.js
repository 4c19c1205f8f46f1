// The built-in launch journeys (package scenarios, docs/journeys.md) as a k6 script on the
// k6/x/dailydoco module: the same steps, in the same order, with the same think times and the
// same mix as the launch profile's two scenarios. Run it with
//
//   ddp-verify load examples/k6/launch.js --env BASE_URL=http://127.0.0.1:8080
//
// or name it in a profile's scenario (script: examples/k6/launch.js, exec: users or captures).
// JOURNEYS (JSON weights), THINK (constant seconds) and VUS/ITERATIONS (a short run instead of
// the launch ramp) change it for tests.
import dailydoco from "k6/x/dailydoco";
import { sleep } from "k6";

const base = __ENV.BASE_URL;
const short = __ENV.ITERATIONS !== undefined;

export const options = {
  scenarios: short
    ? { users: { executor: "per-vu-iterations", vus: Number(__ENV.VUS || 1), iterations: Number(__ENV.ITERATIONS), maxDuration: "5m", exec: "users" } }
    : {
      users: {
        executor: "ramping-vus", exec: "users", startVUs: 0, gracefulRampDown: "30s", gracefulStop: "30s",
        stages: [
          { duration: "5m", target: 100 }, { duration: "10m", target: 100 },
          { duration: "5m", target: 500 }, { duration: "10m", target: 500 },
          { duration: "5m", target: 1000 }, { duration: "20m", target: 1000 },
          { duration: "5m", target: 0 },
        ],
      },
      captures: {
        executor: "ramping-arrival-rate", exec: "captures", startRate: 0, timeUnit: "1h",
        preAllocatedVUs: 40, maxVUs: 120, gracefulStop: "5m",
        stages: [
          { duration: "5m", target: 60 }, { duration: "10m", target: 60 },
          { duration: "5m", target: 300 }, { duration: "10m", target: 300 },
          { duration: "5m", target: 600 }, { duration: "20m", target: 600 },
          { duration: "5m", target: 0 },
        ],
      },
    },
};

// The launch profile's journeys and think times.
const USER_JOURNEYS = __ENV.JOURNEYS ? JSON.parse(__ENV.JOURNEYS) : { registration: 20, browse: 979, export: 1 };
const USER_THINK = { mean: 14, min: 2, max: 120 };
const CAPTURE_THINK = 2;

// The media mix (scenarios.DefaultMedia): a class by share, its duration uniform in its range.
const MEDIA = [
  { name: "clip-720p", resolution: "720p", min: 20, max: 40, share: 0.25 },
  { name: "tutorial-1080p", resolution: "1080p", min: 30, max: 90, share: 0.55 },
  { name: "walkthrough-1080p", resolution: "1080p", min: 90, max: 150, share: 0.10 },
  { name: "screen-4k", resolution: "4k", min: 20, max: 45, share: 0.10 },
];
const EXPORT_FORMATS = ["mp4", "webm", "gif", "html"];

// What a VU remembers across iterations: its account.
const user = { email: "", password: "", token: "", accounts: 0, started: false };

function think(t) {
  if (__ENV.THINK !== undefined) {
    sleep(Number(__ENV.THINK));
    return;
  }
  if (typeof t === "number") {
    sleep(t);
    return;
  }
  const d = -Math.log(1 - dailydoco.random()) * t.mean; // exponential, clamped
  sleep(Math.min(Math.max(d, t.min), t.max));
}

// registration: sign up, log in, land on the dashboard (3 steps).
function registration(c, t) {
  user.accounts++;
  const email = `vu${__VU}.${user.accounts}.${Date.now()}@loadtest.dailydoco.test`;
  const password = "pw-" + Math.floor(dailydoco.random() * 1e12).toString(36);
  c.register(email, password, `Load User ${__VU}`);
  think(t);
  c.login(email, password);
  Object.assign(user, { email, password, token: c.token() });
  think(t);
  c.dashboard();
  think(t);
}

// browse: dashboard, the video list, the newest video or the account page (3 steps).
function browse(c, t) {
  c.dashboard();
  think(t);
  const videos = c.videos();
  think(t);
  if (videos.length > 0) {
    c.video(videos[0].id);
  } else {
    c.me();
  }
  think(t);
}

// record: a capture from the media mix, uploaded as it is recorded, then finished.
function record(c) {
  let x = dailydoco.random(), cls = MEDIA[MEDIA.length - 1];
  for (const m of MEDIA) {
    if (x < m.share) {
      cls = m;
      break;
    }
    x -= m.share;
  }
  const seconds = cls.min + dailydoco.random() * (cls.max - cls.min);
  return c.capture({ title: `${cls.name} by vu ${__VU}`, resolution: cls.resolution, media_seconds: seconds });
}

// capture: record and leave it to the pipeline (1 step).
function capture(c, t) {
  record(c);
  think(t);
}

// pipeline: record, wait until processed, read the AI results (1 step).
function pipeline(c, t) {
  const video = c.waitReady(record(c));
  c.aiResults(video.id);
  think(t);
}

// export: the video list, the newest ready video (made first when there is none), an export
// in a random format, waited for and downloaded (2 steps).
function exportJourney(c, t) {
  const videos = c.videos();
  think(t);
  let video = videos.find((v) => v.status === "ready");
  if (video === undefined) {
    video = c.waitReady(record(c));
  }
  const format = EXPORT_FORMATS[Math.floor(dailydoco.random() * EXPORT_FORMATS.length)];
  const e = c.waitExport(c.requestExport(video.id, format));
  c.download(e);
  think(t);
}

const JOURNEYS = { registration, browse, capture, pipeline, export: exportJourney };

// run runs one journey as the built-in mix does: a client for it, the user's token, and a
// user whose token was refused registers afresh next time.
function run(name, t) {
  const c = dailydoco.client(name, { baseURL: base });
  c.setToken(user.token);
  try {
    dailydoco.journey(name, () => JOURNEYS[name](c, t));
  } catch (e) {
    if (e.status === 401) {
      user.token = "";
    }
    throw e;
  }
}

// users: the browsing users (the launch profile's users scenario). A VU's first iteration
// waits a uniform fraction of a mean think time, and a VU without an account registers first.
export function users() {
  if (!user.started) {
    user.started = true;
    // a uniform fraction of the think time's mean (the clamped exponential's exact mean)
    const { mean, min, max } = USER_THINK;
    const expected = __ENV.THINK !== undefined ? Number(__ENV.THINK) : min + mean * (Math.exp(-min / mean) - Math.exp(-max / mean));
    sleep(dailydoco.random() * expected);
  }
  if (user.token === "") {
    run("registration", USER_THINK);
    return;
  }
  run(dailydoco.draw(USER_JOURNEYS), USER_THINK);
}

// captures: one video offered per arrival (the launch profile's captures scenario): a VU
// without an account registers in the same iteration, then records.
export function captures() {
  if (user.token === "") {
    run("registration", CAPTURE_THINK);
  }
  run("capture", CAPTURE_THINK);
}

// default: the users' journeys, for `ddp-verify load examples/k6/launch.js --vus N --duration D`.
export default function () {
  users();
}
