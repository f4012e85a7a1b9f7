-- The twin's counterpart of ingress-nginx's rootfs/etc/nginx/lua/configuration.lua: the
-- controller POSTs every backend to /configuration/backends on the pod's port 10246, nginx keeps
-- the JSON in the shared dict `configuration_data` (shared memory outlives a reload), and bumps a
-- version each worker's balancer compares before it balances (balancer.lua). GET returns what is
-- kept. ingress-nginx stamps the POST with ngx.time(), whole seconds: two POSTs within one second
-- would look alike, which the twin's scaled time makes common, hence a counter.
local ngx = ngx
local configuration_data = ngx.shared.configuration_data

local _M = {}

-- The backends JSON exactly as the controller writes it (backendsJson, harness/twin/gateway/conf.ts):
-- [{"name":"ns-svc-port","endpoints":[{"address":"127.0.1.2","port":"8080"},...]},...].
-- Returns a table name -> list of { address, port }, or nil and why when the text is not of
-- that shape (the twin ships no JSON library for Lua; the shape is the controller's own).
function _M.decode_backends(text)
  if type(text) ~= "string" or not text:match("^%[.*%]$") then
    return nil, "expected a JSON array of backends"
  end
  local backends, bad = {}, nil
  local rest = text:gsub('{"name":"([^"]*)","endpoints":%[(.-)%]}', function(name, endpoints)
    local peers = {}
    local left = endpoints:gsub('{"address":"([^"]*)","port":"(%d+)"}', function(address, port)
      peers[#peers + 1] = { address = address, port = tonumber(port) }
      return ""
    end)
    if left:gsub(",", "") ~= "" then
      bad = bad or name
    end
    backends[name] = peers
    return ""
  end)
  if bad then
    return nil, "unexpected endpoints of backend " .. bad
  end
  if rest:gsub("[%[%],]", "") ~= "" then
    return nil, "unexpected text in the backends: " .. rest:sub(1, 200)
  end
  return backends
end

function _M.get_backends_data()
  return configuration_data:get("backends")
end

function _M.get_backends_version()
  return configuration_data:get("backends_version") or 0
end

local function handle_backends()
  if ngx.var.request_method == "GET" then
    ngx.status = ngx.HTTP_OK
    ngx.print(_M.get_backends_data() or "")
    return
  end

  ngx.req.read_body()
  -- client_body_buffer_size equals client_max_body_size here: the body is always in memory.
  local body = ngx.req.get_body_data()
  local backends, err = _M.decode_backends(body)
  if not backends then
    ngx.log(ngx.ERR, "dynamic-configuration: could not parse backends: ", err)
    ngx.status = ngx.HTTP_BAD_REQUEST
    ngx.print(err)
    return
  end

  local ok, set_err = configuration_data:set("backends", body)
  if not ok then
    ngx.log(ngx.ERR, "dynamic-configuration: error updating configuration: ", tostring(set_err))
    ngx.status = ngx.HTTP_BAD_REQUEST
    return
  end
  local _, incr_err = configuration_data:incr("backends_version", 1, 0)
  if incr_err then
    ngx.log(ngx.ERR, "dynamic-configuration: error bumping the backends version: ", tostring(incr_err))
    ngx.status = ngx.HTTP_BAD_REQUEST
    return
  end
  ngx.status = ngx.HTTP_CREATED
end

function _M.call()
  if ngx.var.request_method ~= "POST" and ngx.var.request_method ~= "GET" then
    ngx.status = ngx.HTTP_BAD_REQUEST
    ngx.print("Only POST and GET requests are allowed!")
    return
  end
  if ngx.var.request_uri == "/configuration/backends" then
    handle_backends()
    return
  end
  ngx.status = ngx.HTTP_NOT_FOUND
  ngx.print("Not found!")
end

return _M
