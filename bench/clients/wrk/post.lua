-- wrk script: POST the contents of a file (wrk -s post.lua URL -- FILE CONTENT-TYPE) on keep-alive connections.
init = function(args)
  local file = assert(io.open(args[1], "rb"))
  local body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = args[2] or "application/octet-stream"
  request_text = wrk.format()
end

request = function()
  return request_text
end
