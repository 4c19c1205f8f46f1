const crypto = require("k6/crypto");

export default function () {
  crypto.sha256("x", "hex");
}
