-- wrk script: HTTP/1.1 pipelining, as TechEmpower's plaintext test does. Each write carries DEPTH requests
-- (wrk -s pipeline.lua URL -- DEPTH); wrk counts every response in the pipeline.
init = function(args)
  local depth = tonumber(args[1]) or 1
  local requests = {}
  for i = 1, depth do
    requests[i] = wrk.format()
  end
  batch = table.concat(requests)
end

request = function()
  return batch
end
