export const options = { vus: 1, duration: "1s", tags: { env: "staging" } };

export default function () {}
