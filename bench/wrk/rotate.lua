-- Sends, in rotation, the requests listed in a file (one per line, tab-separated:
-- method, path, bearer token, body), each wrk thread starting at its own place in the
-- list, and counts the answers by status. "{n}" in a body becomes a 4-digit counter, so
-- that each write changes its row. At the end prints one line,
-- "BENCH_JSON {...}": requests answered, seconds, requests/s, latency percentiles (ms),
-- requests in flight when wrk stopped (not in the figures), socket errors and the
-- count of every status other than 2xx.
--
--   wrk -t2 -c32 -d20s -s bench/wrk/rotate.lua http://127.0.0.1:8000 -- requests.tsv

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local function split(line)
   local fields = {}
   for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      table.insert(fields, field)
   end
   return fields
end

function init(args)
   requests = {}
   for line in io.lines(args[1]) do
      local f = split(line)
      local headers = { ["Authorization"] = "Bearer " .. f[3] }
      local body = nil
      if f[4] ~= nil and f[4] ~= "" then
         body = f[4]
         headers["Content-Type"] = "application/json"
      end
      table.insert(requests, { method = f[1], path = f[2], headers = headers, body = body })
   end
   if #requests == 0 then
      error("no requests in " .. args[1])
   end
   -- spread the threads over the list, and their counters over the values
   position = (id * 7919) % #requests
   n = (os.time() * 7 + id * 1009) % 10000
   for i, r in ipairs(requests) do
      if r.body == nil or not r.body:find("{n}", 1, true) then
         requests[i] = wrk.format(r.method, r.path, r.headers, r.body)
      end
   end
   statuses = {}
   sent = 0
end

function request()
   sent = sent + 1
   position = position % #requests + 1
   local r = requests[position]
   if type(r) == "string" then
      return r
   end
   n = (n + 1) % 10000
   local body = r.body:gsub("{n}", string.format("%04d", n))
   return wrk.format(r.method, r.path, r.headers, body)
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      statuses[status] = (statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests_)
   local other = {}
   local non_2xx = 0
   local sent = 0
   for _, thread in ipairs(threads) do
      sent = sent + thread:get("sent")
      for status, n in pairs(thread:get("statuses")) do
         other[tostring(status)] = (other[tostring(status)] or 0) + n
         non_2xx = non_2xx + n
      end
   end
   local parts = {}
   for status, n in pairs(other) do
      table.insert(parts, string.format('"%s": %d', status, n))
   end
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "seconds": %.3f, "rps": %.2f, ' ..
      '"p50_ms": %.2f, "p90_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
      '"mean_ms": %.2f, "max_ms": %.2f, "in_flight_at_end": %d, "non_2xx": %d, "statuses": {%s}, ' ..
      '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(95) / 1000, latency:percentile(99) / 1000,
      latency.mean / 1000, latency.max / 1000, sent - summary.requests, non_2xx,
      table.concat(parts, ", "),
      e.connect, e.read, e.write, e.timeout))
end
