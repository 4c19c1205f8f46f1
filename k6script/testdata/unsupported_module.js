import http from "k6/http";
import ws from "k6/ws";

export default function () {
  ws.connect("ws://localhost", {}, () => {});
}
