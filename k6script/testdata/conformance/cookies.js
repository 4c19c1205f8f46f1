// Cookies as k6's documentation describes them: the per-VU jar, response.cookies,
// params.cookies (with and without replace) and http.cookieJar().
import http from "k6/http";
import { check } from "k6";

export const options = { vus: 2, iterations: 4 };

export default function () {
  const base = __ENV.BASE_URL;
  const jar = http.cookieJar();
  jar.clear(`${base}/cookies`); // the cookies sent to /cookies: this VU's last iteration's

  // A cookie the server sets (before a redirect) is in the VU's jar and sent back.
  const res = http.get(`${base}/cookies/set?my_cookie=hello`);
  check(res, {
    "redirect followed to /cookies": (r) => r.status === 200 && r.url === `${base}/cookies`,
    "jar cookie sent back": (r) => r.json().cookies.my_cookie === "hello",
    "cookiesForURL sees it": () => jar.cookiesForURL(base).my_cookie[0] === "hello",
  });

  // A request cookie goes with the jar's; with replace it replaces the jar's of that name.
  check(http.get(`${base}/cookies`, { cookies: { my_cookie: "mine", other: "x" } }), {
    "request cookie beside the jar's": (r) => {
      const c = r.json().cookies;
      return c.other === "x" && c.my_cookie.split(",").sort().join(",") === "hello,mine";
    },
  });
  check(http.get(`${base}/cookies`, { cookies: { my_cookie: { value: "mine", replace: true } } }), {
    "replace wins over the jar": (r) => r.json().cookies.my_cookie === "mine",
  });

  // jar.set, jar.delete, jar.clear.
  jar.set(base, "set_by_script", "42", { path: "/" });
  check(http.get(`${base}/cookies`), {
    "jar.set cookie sent": (r) => r.json().cookies.set_by_script === "42",
  });
  jar.delete(base, "set_by_script");
  check(http.get(`${base}/cookies`), {
    "jar.delete removed it": (r) => r.json().cookies.set_by_script === undefined && r.json().cookies.my_cookie === "hello",
  });
  jar.clear(`${base}/cookies`);
  check(http.get(`${base}/cookies`), {
    "jar.clear removed all": (r) => Object.keys(r.json().cookies).length === 0,
  });

  // response.cookies: every attribute of the Set-Cookie header.
  const attrs = http.get(`${base}/cookies/attributes`);
  check(attrs.cookies, {
    "response.cookies has both": (c) => Object.keys(c).sort().join(",") === "pref,session",
    "response.cookies attributes": (c) => {
      const s = c.session[0];
      return s.name === "session" && s.value === "s1" && s.path === "/app" && s.http_only === true &&
        s.secure === true && s.max_age === 3600 && s.expires === Date.UTC(2030, 0, 2, 3, 4, 5);
    },
    "cookie without attributes": (c) => c.pref[0].value === "dark" && c.pref[0].path === "" && c.pref[0].expires === 0,
  });
}
