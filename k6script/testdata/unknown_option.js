export const options = { vus: 1, duration: "1s", noConnectionReuse: true };

export default function () {}
