-- Transfers: a random member sends 10 points to another random member, with its own token.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local common = require("common")
local _operator, numbers, tokens = common.load_tokens()
local count = #numbers

setup = common.setup
response = common.response
done = common.done

function init(args)
  common.init_thread()
end

function request()
  local sender = math.random(count)
  local recipient = math.random(count - 1)
  if recipient >= sender then recipient = recipient + 1 end
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[sender],
  }
  local body = string.format('{"to": "%s", "points": 10, "note": ""}', numbers[recipient])
  return wrk.format("POST", "/api/v1/me/transfers", headers, body)
end
