-- GET /items/{id}?q= over the 1,000 items served from memory.
math.randomseed(42)
request = function()
  return wrk.format("GET", "/items/" .. math.random(1, 1000) .. "?q=bench")
end
