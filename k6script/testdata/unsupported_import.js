import { get, file as many } from "k6/http";

export default function () {
  many([get]);
}
