// Custom metrics as k6's documentation describes them (k6/metrics): Counter, Gauge, Rate and
// Trend declared in the init code, added to with tags, and judged by thresholds.
import http from "k6/http";
import exec from "k6/execution";
import { Counter, Gauge, Rate, Trend } from "k6/metrics";

const requestsMade = new Counter("requests_made");
const lastItem = new Gauge("last_item");
const evenItems = new Rate("even_items");
const itemValues = new Trend("item_values");
const waitingTime = new Trend("waiting_time", true);

export const options = {
  scenarios: { items: { executor: "shared-iterations", vus: 2, iterations: 10 } },
  thresholds: {
    requests_made: ["count==30", "rate>0"],
    "requests_made{kind:double}": ["count==20"],
    last_item: ["value>=1", "value<=10"],
    even_items: ["rate==0.5"],
    item_values: ["avg==5.5", "min==1", "max==10", "med>4.9", "med<5.1", "p(90)>8.9", "p(90)<9.1"],
    "item_values{parity:even}": ["min==2", "max==10", "avg==6"],
    waiting_time: ["p(95)<10000", "max>=0"],
  },
};

export default function () {
  const item = exec.scenario.iterationInTest + 1; // 1..10, one per iteration
  const res = http.get(`${__ENV.BASE_URL}/get?item=${item}`);
  waitingTime.add(res.timings.waiting);
  requestsMade.add(1);
  requestsMade.add(2, { kind: "double" });
  lastItem.add(item);
  evenItems.add(item % 2 === 0);
  itemValues.add(item, { parity: item % 2 === 0 ? "even" : "odd" });
}
