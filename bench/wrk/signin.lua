-- wrk script for the sign-in burst of bench/run.sh: correct-password sign-ins, back to back.
--
-- Environment: BENCH_EMAIL, BENCH_PASSWORD. done() prints
--   WRK_SIGNIN requests=... ok=... busy=... other=...
-- (busy: 503, hashing saturated past its queue timeout; other: anything else but 200).

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   ok, busy, other = 0, 0, 0
   first_problem = ""
   local body = string.format('{"email":"%s","password":"%s"}',
      os.getenv("BENCH_EMAIL"), os.getenv("BENCH_PASSWORD"))
   req = wrk.format("POST", "/api/sign-in",
      { ["Content-Type"] = "application/json" }, body)
end

function request()
   return req
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
   elseif status == 503 then
      busy = busy + 1
   else
      other = other + 1
      if first_problem == "" then first_problem = "status " .. status .. " " .. body end
   end
end

function done(summary, latency, requests)
   local t_ok, t_busy, t_other, problem = 0, 0, 0, ""
   for _, t in ipairs(threads) do
      t_ok = t_ok + t:get("ok")
      t_busy = t_busy + t:get("busy")
      t_other = t_other + t:get("other")
      if problem == "" then problem = t:get("first_problem") end
   end
   io.write(string.format(
      "WRK_SIGNIN requests=%d ok=%d busy=%d other=%d rps=%.1f p50_ms=%.1f p99_ms=%.1f\n",
      summary.requests, t_ok, t_busy, t_other, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(99) / 1000))
   if problem ~= "" then
      io.write("WRK_SIGNIN first_problem=" .. problem .. "\n")
   end
end
