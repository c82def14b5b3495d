-- Earn postings: an operator's small adjustment (applied at once) to a random member.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("common")
local operator, numbers = common.load_tokens()
local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. operator,
}

setup = common.setup
response = common.response
done = common.done

function init(args)
  common.init_thread()
end

function request()
  local member = numbers[math.random(#numbers)]
  local body = string.format('{"member": "%s", "points": %d, "reason": "bench"}',
    member, math.random(1, 100))
  return wrk.format("POST", "/api/v1/admin/adjustments", headers, body)
end
