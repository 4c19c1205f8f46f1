export const options = { vus: 1, duration: "ten seconds" };

export default function () {}
