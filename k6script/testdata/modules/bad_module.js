import { ws } from "./lib/uses_ws.js";

export default function () {
  ws();
}
