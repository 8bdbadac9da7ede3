-- Variant L of cmd/bench: gorouter's core rule of sticky sessions as an Envoy
-- Lua script, the cheap alternative to vcap-sticky that a user could write in
-- an afternoon. It runs with C's cluster and traffic: the same pin header,
-- read by the same override_host load-balancing policy.
--
--   request:  a Cookie with JSESSIONID and a __VCAP_ID__ of a known instance
--             pins the request to that instance; otherwise a client's copy of
--             the pin header is removed, and Envoy balances as usual.
--   response: when the app sets JSESSIONID (and not __VCAP_ID__ itself), add
--             Set-Cookie: __VCAP_ID__=<id of the instance that served it>.
--
-- Envoy 1.40's Lua API does not say which host served a response (its
-- streamInfo() has downstream addresses, metadata, filter state and route
-- names, no upstream host), so the script takes the instance's id from the
-- X-Instance-Id header the benchmark's app sets (package upstream). A real
-- app has no such header: Envoy would have to add the upstream address, at a
-- cost this script does not pay.
--
-- The benchmark puts the instance table before this script:
--   local INSTANCES = { ["<id>"] = "<ip:port>", ... }

local PIN = "x-vcap-sticky-upstream"

function envoy_on_request(handle)
  local headers = handle:headers()
  local cookie = headers:get("cookie")
  local session, vcap
  if cookie then
    -- The first cookie of each name wins.
    for name, value in string.gmatch(cookie, "([^=;%s]+)=([^;]*)") do
      if name == "JSESSIONID" then
        session = session or value
      elseif name == "__VCAP_ID__" then
        vcap = vcap or value
      end
    end
  end
  local address = session and vcap and INSTANCES[vcap]
  if address then
    headers:replace(PIN, address)
  else
    headers:remove(PIN)
  end
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local n = headers:getNumValues("set-cookie")
  if n == 0 then
    return
  end
  local session = false
  for i = 0, n - 1 do
    local line = headers:getAtIndex("set-cookie", i)
    if string.find(line, "^%s*__VCAP_ID__=") then
      return -- the app sets it itself
    end
    if string.find(line, "^%s*JSESSIONID=") then
      session = true
    end
  end
  if not session then
    return
  end
  local id = headers:get("x-instance-id")
  if id and INSTANCES[id] then
    headers:add("set-cookie", "__VCAP_ID__=" .. id .. "; Path=/; HttpOnly")
  end
end
