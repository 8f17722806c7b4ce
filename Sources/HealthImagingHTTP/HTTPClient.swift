import CLibevent

/// One outbound HTTP/1.1 request with libevent's own client, on a private `event_base` run by the calling (worker)
/// thread: nothing is shared with the server's loop. Used by `S3Client` (`--s3-endpoint`) and `EventDelivery`
/// (`--eventbridge-endpoint`). Every exchange is bounded by `timeoutSeconds` (plus 5 s for the whole exchange).
package enum HTTPClient {
    package enum Failure: Error {
        case setup(String)
        case noConnection
        case notSent
        /// Refused, closed or timed out: no status line came back.
        case noAnswer
    }

    package static func exchange(host: String, port: UInt16, method: String, uri: String, headers: [(String, String)],
                         body: [UInt8], timeoutSeconds: Int32) throws(Failure) -> (status: Int, body: [UInt8]) {
        guard let base = event_base_new() else { throw .setup("event_base_new failed") }
        defer { event_base_free(base) }
        guard let connection = evhttp_connection_base_new(base, nil, host, port) else { throw .noConnection }
        defer { evhttp_connection_free(connection) }
        evhttp_connection_set_timeout(connection, timeoutSeconds)
        evhttp_connection_set_retries(connection, 0)

        let exchange = Exchange(base: base)
        let context = Unmanaged.passUnretained(exchange).toOpaque()
        guard let request = evhttp_request_new({ request, context in
            guard let context else { return }
            let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
            exchange.finish(request)
        }, context) else { throw .setup("evhttp_request_new failed") }
        if let output = evhttp_request_get_output_headers(request) {
            for (name, value) in headers { evhttp_add_header(output, name, value) }
        }
        if !body.isEmpty, let buffer = evhttp_request_get_output_buffer(request) {
            body.withUnsafeBytes { _ = evbuffer_add(buffer, $0.baseAddress, $0.count) }
        }
        let command: evhttp_cmd_type = switch method {
        case "PUT": EVHTTP_REQ_PUT
        case "POST": EVHTTP_REQ_POST
        default: EVHTTP_REQ_GET
        }
        // > evhttp_make_request: Make an HTTP request over the specified connection. The connection gets ownership
        // > of the request. On failure, the request object is no longer valid as it has been freed.
        // > https://libevent.org/doc/http_8h.html
        guard evhttp_make_request(connection, request, command, uri) == 0 else { throw .notSent }
        // A hard bound on the whole exchange on top of evhttp's own timeouts.
        var limit = timeval(tv_sec: Int(timeoutSeconds) + 5, tv_usec: 0)
        event_base_loopexit(base, &limit)
        withExtendedLifetime(exchange) { _ = event_base_dispatch(base) }
        guard exchange.done, exchange.status != 0 else { throw .noAnswer }
        return (exchange.status, exchange.body)
    }
}

/// The state of one request while its event base runs; touched only by the thread running that base.
private final class Exchange {
    let base: OpaquePointer
    var done = false
    var status = 0
    var body: [UInt8] = []

    init(base: OpaquePointer) { self.base = base }

    func finish(_ request: OpaquePointer?) {
        done = true
        if let request {
            status = Int(evhttp_request_get_response_code(request))
            if let input = evhttp_request_get_input_buffer(request) {
                let length = evbuffer_get_length(input)
                if length > 0 {
                    body = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                        count = Int(evbuffer_remove(input, buffer.baseAddress, length))
                    }
                }
            }
        }
        event_base_loopexit(base, nil)
    }
}
