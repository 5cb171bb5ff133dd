-- wrk script: movie views against any base URL (`spin up`, a deployment, the test host).
--   MOVIES=100 MODE=mixed wrk -t2 -c16 -d10s --latency -s tests/benches/wrk/movies.lua http://127.0.0.1:3000
-- MOVIES (default 100): views cycle over /movies/m0 .. m<MOVIES-1> (MOVIES=1: one hot movie).
-- MODE: "cached" (default; the cache answers when it can), "miss" (every view sent with
-- Cache-Control: no-cache, so composed from the upstreams), "mixed" (one view in ten no-cache).
-- PATHS (default /movies/m%d): the path, %d replaced by the movie's number; views.sh sends
-- its yardsticks (/health/api-reference, /metadata/m%d) through this script too, so that
-- every scenario costs the client the same.
-- Seed the movies first, e.g. with `for i in $(seq 0 99); do curl -s -X PUT
-- $URL/metadata/m$i -H 'content-type: application/json' -d '{"title":"T"}'; done`.
local movies = tonumber(os.getenv("MOVIES") or "100")
local mode = os.getenv("MODE") or "cached"
local paths = os.getenv("PATHS") or "/movies/m%d"
local n = 0

function request()
  n = n + 1
  local path = string.gsub(paths, "%%d", tostring(n % movies))
  local headers = {}
  if mode == "miss" or (mode == "mixed" and n % 10 == 0) then
    headers["Cache-Control"] = "no-cache"
  end
  return wrk.format("GET", path, headers)
end
