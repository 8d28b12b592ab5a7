-- wrk script for the maximum-rate runs of bench/run.sh (same script for tsuzuki and the bare server).
--
-- Environment:
--   BENCH_TOKENS  file of session tokens, one per line: the requests rotate over them as the
--                 session cookie (requests are built once, in init, so the rotation costs the
--                 generator no more per request than a fixed request does)
--   BENCH_COOKIE  cookie name (default tsuzuki_session)
--   BENCH_USER    if set, every response must carry this x-tsuzuki-user-id
--   BENCH_LABEL   name printed with the results
--
-- Every response is checked in response(); done() prints one line
--   WRK label=... requests=... ok=... bad_status=... wrong_user=... rps=... p50_us=... p99_us=...
-- which run.sh reads, and refuses if anything but correct 200s was counted.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   ok, bad_status, wrong_user = 0, 0, 0
   first_problem = ""
   expect_user = os.getenv("BENCH_USER")
   if expect_user == "" then expect_user = nil end
   local cookie = os.getenv("BENCH_COOKIE") or "tsuzuki_session"
   local file = os.getenv("BENCH_TOKENS")
   requests, n, i = {}, 0, 0
   if file and file ~= "" then
      for line in io.lines(file) do
         if line ~= "" then
            n = n + 1
            requests[n] = wrk.format("GET", nil, { ["Cookie"] = cookie .. "=" .. line })
         end
      end
   end
   if n == 0 then
      n = 1
      requests[1] = wrk.format("GET", nil, {})
   end
end

function request()
   i = i + 1
   if i > n then i = 1 end
   return requests[i]
end

function response(status, headers, body)
   if status ~= 200 then
      bad_status = bad_status + 1
      if first_problem == "" then first_problem = "status " .. status end
   elseif expect_user and headers["x-tsuzuki-user-id"] ~= expect_user then
      wrong_user = wrong_user + 1
      if first_problem == "" then
         first_problem = "x-tsuzuki-user-id " .. tostring(headers["x-tsuzuki-user-id"])
      end
   else
      ok = ok + 1
   end
end

function done(summary, latency, requests)
   local t_ok, t_bad, t_wrong, problem = 0, 0, 0, ""
   for _, t in ipairs(threads) do
      t_ok = t_ok + t:get("ok")
      t_bad = t_bad + t:get("bad_status")
      t_wrong = t_wrong + t:get("wrong_user")
      if problem == "" then problem = t:get("first_problem") end
   end
   local e = summary.errors
   io.write(string.format(
      "WRK label=%s requests=%d ok=%d bad_status=%d wrong_user=%d socket_errors=%d rps=%.0f " ..
      "p50_us=%d p90_us=%d p99_us=%d max_us=%d duration_us=%d\n",
      os.getenv("BENCH_LABEL") or "run", summary.requests, t_ok, t_bad, t_wrong,
      e.connect + e.read + e.write + e.timeout,
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      summary.duration))
   if problem ~= "" then
      io.write("WRK first_problem=" .. problem .. "\n")
   end
end
