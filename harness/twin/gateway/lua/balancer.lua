-- The twin's counterpart of ingress-nginx's rootfs/etc/nginx/lua/balancer.lua with its default
-- round_robin: `upstream upstream_balancer` has one placeholder server and
-- `balancer_by_lua_block { balancer.balance() }`; each worker keeps one balancer per backend,
-- built from the backends the controller posted (configuration.lua), and picks the next endpoint
-- of the request's `$proxy_upstream_name` for every try. A backend without endpoints has no
-- balancer: rewrite() answers 503, as ingress-nginx's does.
--
-- ingress-nginx's workers poll the shared dict every BACKENDS_SYNC_INTERVAL (1 s); the twin's
-- controller waits that whole interval (its sync lag) before it posts, and the worker takes the
-- new backends at its next request (one shared-dict read), so the lag is counted once.
local ngx_balancer = require("ngx.balancer")
local configuration = require("configuration")
local ngx = ngx
local pairs = pairs

local _M = {}
-- Per worker, as ingress-nginx's: backend name -> { peers = { {address, port}, ... }, last = n }.
local balancers = {}
local synced_version = -1

local function sync_backends()
  local version = configuration.get_backends_version()
  if version == synced_version then
    return
  end
  local backends, err = configuration.decode_backends(configuration.get_backends_data() or "[]")
  if not backends then
    ngx.log(ngx.ERR, "could not parse backends data: ", err)
    return
  end
  local keep = {}
  for name, peers in pairs(backends) do
    if #peers > 0 then
      local balancer = balancers[name]
      if balancer then
        -- Round robin goes on from where it was (resty.roundrobin's reinit keeps no position either way).
        balancer.peers = peers
      else
        balancers[name] = { peers = peers, last = 0 }
      end
      keep[name] = true
    end
  end
  for name in pairs(balancers) do
    if not keep[name] then
      balancers[name] = nil
    end
  end
  synced_version = version
end

function _M.init_worker()
  sync_backends()
end

-- rewrite_by_lua of every proxied location: the request's balancer, or 503 when its backend has
-- no endpoint. The balancer is kept for the request, so its retries use the same one.
function _M.rewrite()
  sync_backends()
  local balancer = balancers[ngx.var.proxy_upstream_name]
  if not balancer then
    ngx.status = ngx.HTTP_SERVICE_UNAVAILABLE
    return ngx.exit(ngx.status)
  end
  ngx.ctx.balancer = balancer
end

-- balancer_by_lua: called for the first try and again for each retry (proxy_next_upstream).
function _M.balance()
  local balancer = ngx.ctx.balancer
  if not balancer then
    return
  end
  local peers = balancer.peers
  balancer.last = balancer.last % #peers + 1
  local peer = peers[balancer.last]
  -- One more try after this one, as ingress-nginx: the upstream has a single placeholder server,
  -- so nginx would not retry at all; proxy_next_upstream_tries bounds the total.
  ngx_balancer.set_more_tries(1)
  local ok, err = ngx_balancer.set_current_peer(peer.address, peer.port)
  if not ok then
    ngx.log(ngx.ERR, "error while setting current upstream peer ", peer.address, ":", peer.port, ": ", err)
  end
end

return _M
