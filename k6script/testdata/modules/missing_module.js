import { nothing } from "./lib/nothing.js";

export default function () {
  nothing();
}
