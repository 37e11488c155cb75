-- wrk script for the benchmark: POSTs one workload's envelope and checks every answer.
-- Arguments (after --): request body file, expected response body file, system token.
-- Every response must be a 200 whose body is exactly the expected bytes; the counts
-- and the latency percentiles are printed as one "BENCH_RESULT {json}" line.

local threads = {}

local function slurp(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.body = slurp(args[1])
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[3]
  expected = slurp(args[2])
  checked = 0
  bad = 0
  first_bad = ""
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 or body ~= expected then
    bad = bad + 1
    if first_bad == "" then
      first_bad = "status " .. status .. ", " .. #body .. " bytes: " .. string.sub(body, 1, 120)
    end
  end
end

local function json_text(text)
  return '"' .. string.gsub(text, '[%c"\\\128-\255]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests)
  local total_checked, total_bad, sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    total_checked = total_checked + thread:get("checked")
    total_bad = total_bad + thread:get("bad")
    if sample == "" then sample = thread:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"checked":%d,"bad":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"first_bad":%s}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), latency.max, total_checked, total_bad, e.connect, e.read,
    e.write, e.status, e.timeout, json_text(sample)))
end
