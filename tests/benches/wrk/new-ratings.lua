-- wrk script: every request PUTs a new user's rating on one of RECORDS movies (environment
-- variable, default 100; RECORDS=1 puts every rating on the same record, the hot aggregate row).
-- Measures the write path under real `spin up`, as the throughput bench does through the host:
-- Writes need a token that may rate as anyone (TOKEN, e.g. from `authctl token --sub bench
-- --scopes ratings:admin --lifetime-s 3600` with the app's signing key in the environment):
--   TOKEN=... RECORDS=100 wrk -t2 -c16 -d10s --latency -s tests/benches/wrk/new-ratings.lua http://127.0.0.1:3000
local records = tonumber(os.getenv("RECORDS") or "100")
local authorization = "Bearer " .. (os.getenv("TOKEN") or "")
local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local n = 0

function request()
  n = n + 1
  local path = string.format("/ratings/movie/m%d/users/wrk%d-%d", n % records, id, n)
  return wrk.format("PUT", path,
    { ["Content-Type"] = "application/json", ["Authorization"] = authorization },
    string.format('{"value":%d}', n % 5 + 1))
end
