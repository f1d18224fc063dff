-- wrk script for `make bench`: GET <path> with logged-in sessions.
--
--   wrk -t1 -c32 ... -s sessions.lua URL -- PATH COOKIE_FILE
--
-- COOKIE_FILE holds one Cookie header value per line, one per logged-in
-- session (the logins happen beforehand in login.py: wrk's Lua sees only
-- the last Set-Cookie of a response, and a login sets several).
--
-- Assignment: wrk 4.1's Lua API never says which connection a request()
-- is for (request() and response() get no connection), so a session
-- cannot be bound to one connection of a thread. Sessions are handed out
-- in turn instead, in the order requests are issued, from a pool several
-- times larger than the number of connections (run.py logs in 8 per
-- connection): a session comes back only after all the others have been
-- issued, so no two requests of one session are in flight at once even
-- when the server answers out of order. (With exactly one session per
-- connection, a multi-threaded server answering out of order made ~4 %
-- of /count requests collide.) run.py shows the demo's CAS replays, which
-- would reveal a collision.
--
-- done() prints one line, "BENCH {json}", that run.py reads: requests,
-- socket errors, non-2xx answers (wrk itself counts only >= 400) and the
-- latency percentiles in microseconds.

local requests = {}
local next_index = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path, cookie_file = args[1], args[2]
  for line in io.lines(cookie_file) do
    if line ~= "" then
      table.insert(requests, wrk.format("GET", path, { Cookie = line }))
    end
  end
  assert(#requests > 0, "no cookies in " .. cookie_file)
  non2xx = 0
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests_)
  local non = 0
  for _, t in ipairs(threads) do
    non = non + t:get("non2xx")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"status_ge_400":%d,"non2xx":%d,' ..
    '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write,
    e.timeout, e.status, non, latency:percentile(50),
    latency:percentile(99)))
end
