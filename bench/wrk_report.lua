-- wrk script: optional POST body from BODY_FILE, and a one-line JSON summary
-- on stdout that bench/load.py reads instead of wrk's human-readable text.

local body_file = os.getenv("BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.method = "POST"
  wrk.headers["content-type"] = "application/json"
  wrk.body = f:read("*a")
  f:close()
end

-- AUTHORIZATION, when set, goes on every request (a client of a clients file).
local authorization = os.getenv("AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["authorization"] = authorization
end

-- DELAY_MS, when set, makes each connection wait that long after a response before its next request:
-- a steady, moderate rate (about connections / (delay + latency)) instead of as fast as the service answers.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "")
if delay_ms and delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"status_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
