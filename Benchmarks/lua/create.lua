-- POST /items with a valid JSON model.
wrk.method = "POST"
wrk.body = '{"name": "Bench item", "price": 9.5, "tags": ["a", "b"], "stock": 3}'
wrk.headers["Content-Type"] = "application/json"
