-- Shared by the wrk scripts: reads the tokens file written by `jifen bench-setup`, counts
-- responses that are not 2xx per thread, and prints one machine-readable result line.
--
--   BENCH_TOKENS  path of the tokens file ("operator <token>", then "<member number> <token>")
--   BENCH_NAME    label of the measurement in the result line

local M = {}
local threads = {}

function M.load_tokens()
  local path = os.getenv("BENCH_TOKENS") or "var/bench/tokens.txt"
  local file = assert(io.open(path, "r"), "cannot open tokens file " .. path)
  local operator, numbers, tokens = nil, {}, {}
  for line in file:lines() do
    local who, token = line:match("^(%S+)%s+(%S+)$")
    if who == "operator" then
      operator = token
    elseif who then
      numbers[#numbers + 1] = who
      tokens[#tokens + 1] = token
    end
  end
  file:close()
  assert(operator and #numbers >= 2, "tokens file needs an operator and two members")
  return operator, numbers, tokens
end

-- wrk calls setup() once per thread in the main Lua state: remember the threads so done()
-- can read their counters.
function M.setup(thread)
  thread:set("id", #threads + 1)
  threads[#threads + 1] = thread
end

function M.init_thread()
  math.randomseed(os.time() * 1000 + (tonumber(id) or 0) * 7919)
  non2xx = 0
  samples = 0
  first_bad = ""
end

function M.response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_bad == "" then
      first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function M.done(summary, latency, requests)
  local bad, example = 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
    local first = thread:get("first_bad")
    if first and first ~= "" and example == "" then example = first end
  end
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  local socket_errors = errors.connect + errors.read + errors.write + errors.timeout
  io.write(string.format(
    "RESULT name=%s requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f mean_ms=%.2f "
      .. "max_ms=%.2f non2xx=%d socket_errors=%d\n",
    os.getenv("BENCH_NAME") or "wrk", summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000,
    latency.max / 1000, bad, socket_errors))
  if example ~= "" then
    io.write("FIRST_NON2XX " .. example:gsub("\n", " ") .. "\n")
  end
end

return M
