export const options = { vus: 1, duration: "1s", summaryTrendStats: ["avg"] };

export default function () {}
