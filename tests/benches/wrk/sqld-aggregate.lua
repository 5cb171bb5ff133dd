-- The libSQL server's own ceiling for a rating read: rating's aggregate lookup sent straight to
-- sqld as one Hrana pipeline request, cycling over 100 records.
--   wrk -t2 -c16 -d8s --latency -s tests/benches/wrk/sqld-aggregate.lua http://127.0.0.1:8092
counter = 0
request = function()
  counter = counter + 1
  local sql = "SELECT total, count FROM rating_totals WHERE record_type = 'movie' AND record_id = 'm"
    .. (counter % 100) .. "'"
  local body = '{"requests":[{"type":"execute","stmt":{"sql":"' .. sql .. '"}},{"type":"close"}]}'
  return wrk.format("POST", "/v2/pipeline", {["content-type"] = "application/json"}, body)
end
