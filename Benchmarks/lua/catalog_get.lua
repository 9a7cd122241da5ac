-- GET /items/{id} over the 100 items the run seeds first.
math.randomseed(42)
request = function()
  return wrk.format("GET", "/items/" .. math.random(1, 100))
end
