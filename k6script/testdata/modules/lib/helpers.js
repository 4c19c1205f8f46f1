// Helpers the script imports: they use k6 modules and another local module.
import http from "k6/http";
import { greeting } from "./shared.js";

export function getStatus(url) {
  return http.get(url, { tags: { name: "helper" } }).status;
}

export function failHere() {
  throw new Error("thrown in helpers.js with " + greeting);
}
