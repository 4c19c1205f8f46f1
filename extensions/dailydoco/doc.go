// Package dailydoco is a typed client of the DailyDoco Pro API for virtual users, in the
// spirit of a custom k6 extension: scenarios call Register, Login, StartCapture, UploadChunks,
// Finish, WaitReady, RequestExport, Download or Dashboard, and each call
//
//   - is one named step, sent through the VU's instrumented client (tags scenario and step;
//     step is "<journey>.<step>", e.g. "browse.dashboard_page"), so every request lands in
//     ddp_client_request_duration_seconds and the run's per-step statistics;
//   - validates the response's status and JSON shape as k6-style checks ("<step> status",
//     "<step> body");
//   - returns a classified error: transport failures are *load.RequestError, answers the
//     client did not expect are *APIError with the HTTP status, the platform's error code and
//     a [load.ErrorClass]; throttling matches [ErrRateLimited], a body of the wrong shape
//     [ErrBadBody], a poll that ran out of time [ErrDeadline], a failed video [ErrVideoFailed].
//
// Waiting (video processing, export rendering) polls with exponential backoff under a
// deadline, on the engine's clock. Journey-level timings are recorded twice: as engine trends
// (for the run summary) and in the Prometheus histogram ddp_journey_duration_seconds{journey}
// of a [Metrics] (for the SLOs: dashboard load < 3 s reads its le="3" bucket).
//
// # Client addresses
//
// Every VU presents its own client address in X-Forwarded-For, so that the gateway's per-IP
// rate limits apply per user as in production, where users come from many addresses. The
// addresses come from 198.18.0.0/15, the range RFC 2544 reserves for benchmarking; they are
// header values only, nothing is ever sent to them. See [ClientAddr].
//
// # Capture data
//
// Chunks are generated on the fly from a seeded ChaCha8 stream and streamed into the request
// body, so no video (and not even a whole chunk) is held in memory; the bytes are deterministic
// per capture and chunk, so a re-sent chunk is identical. Chunk sizes follow a screen-recording
// bitrate per resolution ([Bitrate]), bounded by the server's max_chunk_bytes.
package dailydoco
