-- wrk script: POST distinct, pre-signed WooCommerce deliveries (bench/lib/wr_gen.py output).
--
-- wrk's Lua has no HMAC, so signatures are pre-computed: requests.tsv holds one
-- "id<TAB>order_key<TAB>delivery_id<TAB>signature" line per request and template.txt the body
-- with @@ID@@ / @@KEY@@ markers. Each request is rendered from the template, so every request
-- carries a different raw body (and dedupe key) and the receiver's durable-write path is
-- measured, never its duplicate path.
--
-- Arguments (after `--`): <gen dir> <first line> <line count> <threads> <connections> <rate>
--   first/count select a slice of requests.tsv, so the warm-up, peak and paced runs against the
--   same server never reuse a body. Thread k of n takes lines first+k, first+k+n, ...
--   When a thread has used all of its lines it stops (never cycles back to a used body); done()
--   reports that as "exhausted_threads".
--   rate > 0 paces the run at about `rate` requests/s in total, using the delay() hook with a
--   per-thread schedule of send slots (clock via LuaJIT ffi clock_gettime; without ffi, a fixed
--   per-connection delay). The first request of every connection is then a GET /health/ready so
--   that no burst of webhook POSTs precedes the schedule. rate = 0 is a closed loop (peak).
--
-- done() prints one line: "WRKJSON {...}" with the counts and latency percentiles (µs).

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

local requests = {}
local next_index = 1
local pacing_interval_ms = 0
local now_ms = nil
local next_slot = nil
local warm_gets = 0
local health_request = nil
local render = nil
local started_ms = nil
local conns_per_thread = 1

local function read_file(path)
   local f = assert(io.open(path, "rb"))
   local s = f:read("*a")
   f:close()
   return s
end

local function init_clock()
   local ok, ffi = pcall(require, "ffi")
   if not ok then return nil end
   local ok2 = pcall(ffi.cdef, [[
      typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
      int clock_gettime(int clk_id, bench_timespec *tp);
   ]])
   if not ok2 then return nil end
   local ts = ffi.new("bench_timespec[1]")
   return function()
      ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
      return tonumber(ts[0].tv_sec) * 1000 + tonumber(ts[0].tv_nsec) / 1e6
   end
end

function init(args)
   local dir = args[1]
   local first = tonumber(args[2])
   local count = tonumber(args[3])
   local nthreads = tonumber(args[4])
   conns_per_thread = math.max(1, math.floor(tonumber(args[5]) / nthreads))
   local rate = tonumber(args[6] or "0")
   local tid = tonumber(wrk.thread:get("tid"))
   local path = wrk.path

   -- Template split into literal parts and markers.
   local template = read_file(dir .. "/template.txt")
   local parts, vars = {}, {}
   local pos = 1
   while true do
      local s, e, name = template:find("@@(%u+)@@", pos)
      if not s then break end
      table.insert(parts, template:sub(pos, s - 1))
      table.insert(vars, name)
      pos = e + 1
   end
   local tail = template:sub(pos)

   local head = "POST " .. path .. " HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port .. "\r\n"
   for line in io.lines(dir .. "/static-headers.txt") do
      if #line > 0 then head = head .. line .. "\r\n" end
   end

   -- Keep only this thread's lines; bodies are rendered when sent (memory stays small).
   local last = first + count - 1
   local n = 0
   for line in io.lines(dir .. "/requests.tsv") do
      if n > last then break end
      if n >= first and (n - first) % nthreads == tid then
         requests[#requests + 1] = line
      end
      n = n + 1
   end
   render = function(line)
      local id, key, delivery, sig = line:match("^(%S+)\t(%S+)\t(%S+)\t(%S+)$")
      local values = { ID = id, KEY = key }
      local buf = {}
      for i = 1, #parts do
         buf[2 * i - 1] = parts[i]
         buf[2 * i] = values[vars[i]]
      end
      buf[2 * #parts + 1] = tail
      local body = table.concat(buf)
      return head
         .. "X-WC-Webhook-Signature: " .. sig .. "\r\n"
         .. "X-WC-Webhook-Delivery-ID: " .. delivery .. "\r\n"
         .. "Content-Length: " .. #body .. "\r\n\r\n" .. body
   end
   wrk.thread:set("loaded", #requests)
   wrk.thread:set("exhausted", 0)
   wrk.thread:set("ffi_clock", 0)
   health_request = "GET /health/ready HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port .. "\r\n\r\n"

   now_ms = init_clock()
   if rate > 0 then
      pacing_interval_ms = 1000 / (rate / nthreads)
      warm_gets = conns_per_thread
      wrk.thread:set("ffi_clock", now_ms and 1 or 0)
   end
end

function request()
   if started_ms == nil and now_ms then started_ms = now_ms() end
   if warm_gets > 0 then
      warm_gets = warm_gets - 1
      return health_request
   end
   local line = requests[next_index]
   if line == nil then
      -- Every body of this thread's slice was sent once: stop rather than repeat one.
      -- wrk still sleeps out -d, so remember how long this thread really ran.
      wrk.thread:set("exhausted", 1)
      if now_ms then wrk.thread:set("active_us", math.floor((now_ms() - started_ms) * 1000)) end
      wrk.thread:stop()
      return health_request
   end
   next_index = next_index + 1
   return render(line)
end

function delay()
   if pacing_interval_ms <= 0 then return 0 end
   if now_ms == nil then
      -- No clock: each connection waits a fixed interval (latency then lowers the rate a bit).
      return pacing_interval_ms * conns_per_thread
   end
   local now = now_ms()
   if next_slot == nil or next_slot < now - 50 then next_slot = now end
   next_slot = next_slot + pacing_interval_ms
   local d = next_slot - now
   if d < 0 then d = 0 end
   return d
end

function done(summary, latency, requests_)
   local exhausted, loaded, clock = 0, 0, 0
   -- Effective duration: the longest-running thread (a thread that ran out of bodies stopped early).
   local active_us = 0
   for _, t in ipairs(threads) do
      local a = tonumber(t:get("active_us")) or summary.duration
      if a > active_us then active_us = a end
      exhausted = exhausted + (tonumber(t:get("exhausted")) or 0)
      loaded = loaded + (tonumber(t:get("loaded")) or 0)
      clock = clock + (tonumber(t:get("ffi_clock")) or 0)
   end
   local e = summary.errors
   local fields = {
      string.format('"requests":%d', summary.requests),
      string.format('"duration_us":%d', summary.duration),
      string.format('"active_us":%d', active_us),
      string.format('"bytes":%d', summary.bytes),
      string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
         e.connect, e.read, e.write, e.status, e.timeout),
      string.format('"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
         latency.min, latency.mean, latency.stdev, latency.max,
         latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)),
      string.format('"threads":%d', #threads),
      string.format('"bodies_loaded":%d', loaded),
      string.format('"exhausted_threads":%d', exhausted),
      string.format('"paced_with_clock_threads":%d', clock),
   }
   io.write("WRKJSON {" .. table.concat(fields, ",") .. "}\n")
end
