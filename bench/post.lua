-- wrk script: POST with an empty body (wrk sends Content-Length: 0 for "").
wrk.method = "POST"
wrk.body   = ""
