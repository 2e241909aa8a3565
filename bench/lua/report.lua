-- wrk script: print one machine-readable line with the run's figures and,
-- with ONEBAR_WRK_COUNT=1, the answers by status (a table per thread, added
-- up in done()).
-- Optional: ONEBAR_WRK_REQUESTS names a file of requests, one per line, as
-- METHOD<TAB>PATH<TAB>HEADERS(k: v|k: v)<TAB>BODY; each thread cycles through
-- them from its own starting point.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local reqs = nil
local i = 0
statuses = {}

local function split(s, sep)
  local out, start = {}, 1
  while true do
    local a, b = string.find(s, sep, start, true)
    if not a then table.insert(out, string.sub(s, start)); return out end
    table.insert(out, string.sub(s, start, a - 1))
    start = b + 1
  end
end

function init(args)
  local path = os.getenv("ONEBAR_WRK_REQUESTS")
  if path and path ~= "" then
    reqs = {}
    for line in io.lines(path) do
      if line ~= "" then
        local f = split(line, "\t")
        local headers = {}
        if f[3] and f[3] ~= "" then
          for _, h in ipairs(split(f[3], "|")) do
            local k, v = string.match(h, "^([^:]+):%s*(.*)$")
            if k then headers[k] = v end
          end
        end
        local body = f[4]
        if body == "" then body = nil end
        table.insert(reqs, wrk.format(f[1], f[2], headers, body))
      end
    end
    i = (id or 1) * 7919 % #reqs
  end
end

if os.getenv("ONEBAR_WRK_REQUESTS") and os.getenv("ONEBAR_WRK_REQUESTS") ~= "" then
  request = function()
    i = i % #reqs + 1
    return reqs[i]
  end
end

-- Counting answers makes wrk parse each one in Lua: only when asked.
if os.getenv("ONEBAR_WRK_COUNT") == "1" then
  response = function(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, string.format('"%d":%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'ONEBAR_WRK {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status_errors":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    table.concat(parts, ",")))
end
