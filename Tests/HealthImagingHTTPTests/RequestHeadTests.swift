import Testing
@testable import HealthImagingHTTP

@Suite struct RequestHeadTests {
    let limits = RequestHead.Limits()

    func verdict(_ text: String) -> RequestHead.Verdict {
        Array(text.utf8).withUnsafeBytes { RequestHead.inspect($0, limits: limits) }
    }

    func refusal(_ text: String) -> HTTPRefusal.Reason? {
        if case .refuse(let error) = verdict(text) { return error.reason }
        return nil
    }

    @Test func passesAWellFormedHeadWithItsBodyLength() {
        #expect(verdict("POST /datastore HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n")
            == .stream(RequestHead.Stream(framing: .length(12), limit: limits.maxBodyBytes, toFile: false,
                                          head: Array("POST /datastore HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n".utf8),
                                          framingHeaders: [.init(name: "Content-Length", value: "12")],
                                          expectsContinue: false, closeAfter: false)))
        #expect(verdict("GET /datastore HTTP/1.1\nHost: x\n\n") == .pass(rewritten: nil, closeAfter: false))
        #expect(verdict("GET /x HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n") == .pass(rewritten: nil, closeAfter: true))
    }

    @Test func refusesMisframedContentLength() {
        for value in ["+2", "-1", " ", "0x10", "2, 2", "1e3", "99999999999999999999"] {
            #expect(refusal("POST /x HTTP/1.1\r\nContent-Length: \(value)\r\n\r\n") == .badRequest, "\(value)")
        }
        #expect(refusal("POST /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n") == .badRequest)
        guard case .stream(let twice) = verdict("POST /x HTTP/1.1\r\nContent-Length: 2\r\ncontent-length:2\r\n\r\n") else {
            Issue.record("repeated equal Content-Length refused")
            return
        }
        #expect(twice.framing == .length(2))
        #expect(String(decoding: twice.head, as: UTF8.self) == "POST /x HTTP/1.1\r\nContent-Length: 0\r\n")
        #expect(refusal("POST /x HTTP/1.1\r\nContent-Length : 2\r\n\r\n") == .badRequest)
        #expect(refusal("POST /x HTTP/1.1\r\nX: 1\r\n Content-Length: 2\r\n\r\n") == .badRequest)
        #expect(refusal("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == .notImplemented)
        #expect(refusal("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n") == .badRequest)
        #expect(refusal("HEAD /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n") == .badRequest)
    }

    @Test func refusesMethodsTheRoutesDoNotUse() {
        for method in ["OPTIONS", "TRACE", "CONNECT", "FOO", "get"] {
            #expect(refusal("\(method) /x HTTP/1.1\r\n\r\n") == .notImplemented, "\(method)")
        }
        #expect(refusal("G\tET /x HTTP/1.1\r\n\r\n") == .badRequest)
    }

    @Test func answersTargetsAndVersions() {
        #expect(refusal("GET //datastore HTTP/1.1\r\n\r\n") == .notFound)
        #expect(refusal("GET datastore HTTP/1.1\r\n\r\n") == .badRequest)
        #expect(refusal("GET /x HTTP/2.0\r\n\r\n") == .badRequest)
        #expect(refusal("GET /x\r\n\r\n") == .badRequest)
        #expect(refusal("GET  /x HTTP/1.1\r\n\r\n") == .badRequest)
        // Absolute form is handed on in origin form (evhttp would take it for a proxy request).
        #expect(verdict("GET http://127.0.0.1:7890/datastore?a=b HTTP/1.1\r\nHost: z\r\n\r\n")
            == .pass(rewritten: Array("GET /datastore?a=b HTTP/1.1\r\nHost: z\r\n\r\n".utf8), closeAfter: false))
        #expect(verdict("GET HTTPS://h HTTP/1.1\r\n\r\n") == .pass(rewritten: Array("GET / HTTP/1.1\r\n\r\n".utf8), closeAfter: false))
        #expect(verdict("GET http://h?q=1 HTTP/1.1\r\n\r\n") == .pass(rewritten: Array("GET /?q=1 HTTP/1.1\r\n\r\n".utf8), closeAfter: false))
    }

    @Test func refusesBodiesOverTheLimitFromTheHead() {
        #expect(refusal("POST /x HTTP/1.1\r\nContent-Length: \(limits.maxBodyBytes + 1)\r\nExpect: 100-continue\r\n\r\n") == .payloadTooLarge)
        #expect(refusal("POST /x HTTP/1.1\r\nExpect: something\r\n\r\n") == .badRequest)
    }

    @Test func rewritesHTTP10AsHTTP11ClosingUnlessKeptAlive() {
        guard case .pass(let rewritten?, true) = verdict("GET /x HTTP/1.0\r\nHost: y\r\n\r\n") else {
            Issue.record("not rewritten")
            return
        }
        #expect(String(decoding: rewritten, as: UTF8.self) == "GET /x HTTP/1.1\r\nHost: y\r\nConnection: close\r\n\r\n")
        guard case .pass(_?, false) = verdict("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") else {
            Issue.record("keep-alive lost")
            return
        }
    }
}
