import { get, batch as many } from "k6/http";

export default function () {
  many([get]);
}
