// response.json(selector) with gjson's path syntax, as k6's documentation describes it.
import http from "k6/http";
import { check } from "k6";

export const options = { vus: 1, iterations: 1 };

export default function () {
  const res = http.get(`${__ENV.BASE_URL}/json`);
  check(res, {
    "whole body": (r) => r.json().slideshow.author === "Yours Truly",
    "field": (r) => r.json("slideshow.title") === "Sample",
    "array length": (r) => r.json("slideshow.slides.#") === 2,
    "array element": (r) => r.json("slideshow.slides.1.title") === "Overview",
    "nested array": (r) => r.json("slideshow.slides.1.items").join("") === "ab",
    "query": (r) => r.json("slideshow.slides.#(title==\"Wake up\").type") === "all",
    "no match is undefined": (r) => r.json("slideshow.nothing") === undefined,
  });
}
