-- wrk script for scripts/soak: keep-alive traffic an honest client could send, valid mints and 4xx alike.
-- Nothing here makes the server close the connection, so any socket error is a real failure.
local json_headers = { ["Content-Type"] = "application/json" }
local counter = 0
statuses = {}
tokens = {}

local function mint(body) return wrk.format("POST", "/tokens", json_headers, body) end

local requests = {
  -- weight, builder
  { 40, function(n) return mint('{"sender":"agent://soak-' .. n .. '"}') end },
  { 15, function(n) return mint('{"sender":"agent://soak-' .. n .. '","scopes":{"can_start_sessions":true,' ..
      '"is_observer":false,"allowed_modes":["macp.mode.decision.v1"],"max_open_sessions":' .. (n % 7) ..
      ',"can_manage_mode_registry":false,"extra":{"n":' .. n .. '}},"ttl_seconds":' .. (1 + n % 5000) .. '}') end },
  { 5, function(n) return mint('{"sender":"agent://\\u00fc\\"quoted\\" ' .. n .. '","scopes":{"k\\n":"\\u2028"}}') end },
  { 5, function() return wrk.format("GET", "/.well-known/jwks.json") end },
  { 5, function() return wrk.format("GET", "/healthz") end },
  { 4, function() return mint('{"sender":') end },                                     -- 400 invalid JSON
  { 4, function() return mint('{"sender":"  "}') end },                                -- 400 sender
  { 4, function() return mint('{"sender":"a","scopes":{"is_observer":"yes"}}') end },  -- 400 scope type
  { 4, function() return mint('{"sender":"a","ttl_seconds":-3}') end },                -- 400 ttl
  { 4, function() return mint('{"sender":"a","sender":"b"}') end },                    -- 400 duplicate key
  { 4, function() return wrk.format("POST", "/tokens", { ["Content-Type"] = "text/plain" }, '{"sender":"a"}') end },
  { 3, function() return wrk.format("GET", "/nope") end },                             -- 404
  { 3, function() return wrk.format("PUT", "/tokens", json_headers, "{}") end },       -- 405
}
local total_weight = 0
for _, r in ipairs(requests) do total_weight = total_weight + r[1] end

function request()
  counter = counter + 1
  local pick = (counter * 7919) % total_weight
  for _, r in ipairs(requests) do
    if pick < r[1] then return r[2](counter) end
    pick = pick - r[1]
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 and #tokens < 50 and counter % 97 == 0 then
    local token = body:match('"token":"([^"]+)"')
    if token then tokens[#tokens + 1] = token end
  end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

-- One JSON line for soak.mjs: status counts, wrk's error counts, sampled tokens.
function done(summary, latency, reqs)
  local all_statuses, all_tokens = {}, {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do all_statuses[status] = (all_statuses[status] or 0) + n end
    for _, token in ipairs(t:get("tokens")) do all_tokens[#all_tokens + 1] = '"' .. token .. '"' end
  end
  local parts = {}
  for status, n in pairs(all_statuses) do parts[#parts + 1] = '"' .. status .. '":' .. n end
  local e = summary.errors
  io.write(string.format('SOAK-RESULT {"requests":%d,"duration_us":%d,"statuses":{%s},"errors":{"connect":%d,' ..
    '"read":%d,"write":%d,"status":%d,"timeout":%d},"latency_p99_us":%d,"tokens":[%s]}\n',
    summary.requests, summary.duration, table.concat(parts, ","), e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(99), table.concat(all_tokens, ",")))
end
