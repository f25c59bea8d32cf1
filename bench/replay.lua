-- Replays pre-signed Twilio webhooks. Run with as many threads as connections (-tN -cN): thread i owns one
-- connection and the file <dir>/conn-<i>.txt, a disjoint set of phones whose messages follow each other in
-- conversation order. Each line: <X-Twilio-Signature> TAB <form body>.
-- args: <dir> <host:port> [marker...]   a reply containing a marker is counted as "fallback" (try again later).
-- When a connection's file is used up it wraps (counted as "wrapped": size the files for the run).
local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   local dir, host = args[1], args[2]
   markers = {}
   for k = 3, #args do markers[#markers + 1] = args[k] end
   reqs = {}
   local f = assert(io.open(dir .. "/conn-" .. id .. ".txt", "r"))
   for line in f:lines() do
      local sig, body = line:match("^([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", "/sms/twilio", {
         ["Host"] = host,
         ["Content-Type"] = "application/x-www-form-urlencoded",
         ["X-Twilio-Signature"] = sig,
      }, body)
   end
   f:close()
   i, sent, answered, bad, wrapped, fallback = 0, 0, 0, 0, 0, 0
end

function request()
   i = i + 1
   if i > #reqs then
      i, wrapped = 1, wrapped + 1
   end
   sent = sent + 1
   return reqs[i]
end

function response(status, headers, body)
   answered = answered + 1
   if status ~= 200 then
      bad = bad + 1
   elseif body then
      for _, m in ipairs(markers) do
         if body:find(m, 1, true) then fallback = fallback + 1 break end
      end
   end
end

function done(summary, latency, requests)
   local bad, wrapped, sent, fallback = 0, 0, 0, 0
   for _, t in ipairs(threads) do
      bad = bad + (t:get("bad") or 0)
      wrapped = wrapped + (t:get("wrapped") or 0)
      sent = sent + (t:get("sent") or 0)
      fallback = fallback + (t:get("fallback") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCHJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
      '"mean_us":%.1f,"non200":%d,"fallback":%d,"wrapped":%d,"sent":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
      '"err_timeout":%d,"err_status":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, bad, fallback, wrapped, sent, e.connect, e.read, e.write,
      e.timeout, e.status))
end
