-- Shared by every scenario. With arguments "post <customer ids> <product ids>" each request is a
-- new invoice for a random customer and product (comma-separated ids); otherwise wrk's plain GET.
-- done() prints one JSON line that bench/wrk.py parses (wrk's text summary rounds too much).

local customers, products = nil, nil

local function split(list)
  local items = {}
  for item in string.gmatch(list, "[^,]+") do
    items[#items + 1] = item
  end
  return items
end

function init(args)
  if args[1] == "post" then
    customers = split(args[2])
    products = split(args[3])
  end
end

function request()
  if customers == nil then
    return wrk.format(nil)
  end
  local body = string.format(
    '{"customer_id":"%s","product_id":"%s","quantity":%d}',
    customers[math.random(#customers)], products[math.random(#products)], math.random(1, 9)
  )
  -- Headers given here replace wrk's own (-H, e.g. the API token): carry those over.
  local headers = {["Content-Type"] = "application/json"}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nBENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"status_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
