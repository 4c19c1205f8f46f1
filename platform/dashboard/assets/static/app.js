// DailyDoco Pro dashboard: the first API calls of a page load are GET /api/v1/me and
// GET /api/v1/videos with the token kept in localStorage.
"use strict";
const api = (path, opts = {}) => {
  const token = localStorage.getItem("ddp_token");
  const headers = Object.assign({ "Content-Type": "application/json" }, opts.headers || {});
  if (token) headers.Authorization = "Bearer " + token;
  return fetch(path, Object.assign({}, opts, { headers })).then(r => r.ok ? r.json() : Promise.reject(r.status));
};
const el = id => document.getElementById(id);
function load() {
  Promise.all([api("/api/v1/me"), api("/api/v1/videos")]).then(([me, list]) => {
    el("user").textContent = me.email;
    el("login").hidden = true;
    el("videos").hidden = false;
    el("videos").querySelector("tbody").replaceChildren(...list.videos.map(v => {
      const tr = document.createElement("tr");
      for (const c of [v.title, v.resolution, v.status, v.accepted_at]) {
        const td = document.createElement("td");
        td.textContent = c;
        tr.append(td);
      }
      return tr;
    }));
  }).catch(() => { el("login").hidden = false; });
}
document.addEventListener("DOMContentLoaded", () => {
  el("login-form").addEventListener("submit", e => {
    e.preventDefault();
    const f = new FormData(e.target);
    api("/api/v1/sessions", { method: "POST", body: JSON.stringify({ email: f.get("email"), password: f.get("password") }) })
      .then(s => { localStorage.setItem("ddp_token", s.token); load(); });
  });
  load();
});
