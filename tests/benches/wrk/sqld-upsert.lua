-- The libSQL server's own ceiling for a rating write: rating's upsert (with the triggers that
-- keep the aggregate) sent straight to sqld as one Hrana pipeline request, each a new user on
-- one of 100 records. Compare with tests/benches/wrk/new-ratings.lua through Spin on the same
-- server. The database needs rating's schema (start the app on it once).
--   wrk -t2 -c16 -d8s --latency -s tests/benches/wrk/sqld-upsert.lua http://127.0.0.1:8092
counter = 0
request = function()
  counter = counter + 1
  local sql = "INSERT INTO ratings (record_type, record_id, user_id, value) VALUES ('movie', 'm"
    .. (counter % 100) .. "', 'raw-" .. math.random(1, 1e12) .. "-" .. counter .. "', 3) "
    .. "ON CONFLICT (record_type, record_id, user_id) DO UPDATE SET value = excluded.value, "
    .. "revision = revision + 1 RETURNING revision"
  local body = '{"requests":[{"type":"execute","stmt":{"sql":"' .. sql .. '"}},{"type":"close"}]}'
  return wrk.format("POST", "/v2/pipeline", {["content-type"] = "application/json"}, body)
end
