import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP answer of the in-process server.
public struct HTTPAnswer: Sendable {
    public let status: Int
    public let headers: [String: String]
    public let body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed with JSONSerialization (`[String: Any]`, `[Any]`, …).
    public func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }
}

/// A control-plane call was refused: the status, `x-amzn-ErrorType` and the message naming the JSON path.
public struct ControlPlaneError: Error, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    public var description: String { "\(status) \(code): \(message)" }
}

/// Control helpers, one per control endpoint, acting on the server's namespace (`?account=&region=`).
extension HealthImagingLocalServer {
    /// One blocking HTTP/1.1 request on a fresh connection (`Connection: close`). Works from any thread.
    public func request(_ method: String, _ path: String, body: String? = nil,
                        headers: [String: String] = [:]) throws -> HTTPAnswer {
        try RawHTTP.exchange(port: port, method: method, target: path, headers: headers, body: Array((body ?? "").utf8))
    }

    /// A control call: JSON body, the namespace's `?account=&region=` added; a 4xx/5xx throws ControlPlaneError.
    @discardableResult
    public func control(_ method: String, _ path: String, json: String? = nil, scoped: Bool = true,
                        query: [String: String] = [:]) throws -> HTTPAnswer {
        var parameters = query
        if scoped {
            parameters["account"] = account
            parameters["region"] = region
        }
        var target = path
        if !parameters.isEmpty {
            target += "?" + parameters.keys.sorted().map { "\($0)=\(RawHTTP.encode(parameters[$0]!))" }.joined(separator: "&")
        }
        let answer = try request(method, target, body: json, headers: ["Content-Type": "application/json"])
        if answer.status >= 400 {
            let document = (try? answer.json()) as? [String: Any]
            throw ControlPlaneError(status: answer.status,
                                    code: document?["__type"] as? String ?? answer.headers["x-amzn-errortype"] ?? "HTTPError",
                                    message: document?["message"] as? String ?? answer.text)
        }
        return answer
    }

    /// Loads a fixture document (JSON text) into the namespace, all or nothing.
    @discardableResult
    public func load(_ document: String) throws -> HTTPAnswer { try control("POST", "/_healthimaging/fixtures", json: document) }

    /// The namespace's whole state as a fixture document.
    public func export() throws -> String { try control("GET", "/_healthimaging/fixtures").text }

    /// Resets the namespace (`to`: "startup" or "empty").
    @discardableResult
    public func reset(to: String = "startup") throws -> HTTPAnswer {
        try control("POST", "/_healthimaging/reset", json: "{\"to\":\"\(to)\"}")
    }

    /// Adds fault rules (one rule or `{"rules": [...]}` as JSON text); returns their ids.
    @discardableResult
    public func addFault(_ rule: String) throws -> [String] {
        let document = try control("POST", "/_healthimaging/faults", json: rule).json() as? [String: Any]
        return (document?["rules"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    }

    public func deleteFault(_ id: String) throws { try control("DELETE", "/_healthimaging/faults/\(RawHTTP.encode(id))") }

    public func clearFaults() throws { try control("DELETE", "/_healthimaging/faults") }

    /// PATCH a version's members (JSON object text), e.g. `{"ImageSetWorkflowStatus": "COPY_FAILED"}`.
    @discardableResult
    public func setVersionState(datastoreId: String, imageSetId: String, versionId: String, _ members: String) throws -> HTTPAnswer {
        try control("PATCH", "/_healthimaging/datastores/\(datastoreId)/imageSets/\(imageSetId)/versions/\(versionId)", json: members)
    }

    /// Appends a version (JSON object text with `imageSetState`).
    @discardableResult
    public func addVersion(datastoreId: String, imageSetId: String, _ members: String) throws -> HTTPAnswer {
        try control("POST", "/_healthimaging/datastores/\(datastoreId)/imageSets/\(imageSetId)/versions", json: members)
    }

    /// PUT transition modes (JSON text such as `{"imageSet": "manual"}`).
    @discardableResult
    public func transitions(_ modes: String) throws -> HTTPAnswer { try control("PUT", "/_healthimaging/transitions", json: modes) }

    /// Completes pending transitions of the namespace.
    @discardableResult
    public func advance() throws -> HTTPAnswer { try control("POST", "/_healthimaging/transitions/advance", json: "{}") }

    /// The namespace's journal entries, oldest first.
    public func journal(operation: String? = nil) throws -> [[String: Any]] {
        let answer = try control("GET", "/_healthimaging/journal", query: operation.map { ["operation": $0] } ?? [:])
        return (try answer.json() as? [String: Any])?["entries"] as? [[String: Any]] ?? []
    }

    public func health() throws -> [String: Any] {
        try control("GET", "/_healthimaging/health", scoped: false).json() as? [String: Any] ?? [:]
    }
}

/// A tiny blocking HTTP/1.1 client over a socket (no URLSession, so nothing beyond Foundation and Glibc).
enum RawHTTP {
    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? value
    }

    static func exchange(port: Int, method: String, target: String, headers: [String: String], body: [UInt8]) throws -> HTTPAnswer {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HealthImagingLocalServerError(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HealthImagingLocalServerError(description: "connect to port \(port) failed: errno \(errno)") }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        let out = Array(head.utf8) + body
        var sent = 0
        while sent < out.count {
            let n = out[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw HealthImagingLocalServerError(description: "send failed: errno \(errno)") }
            sent += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += buffer[..<n]
        }
        return try parse(received)
    }

    static func parse(_ bytes: [UInt8]) throws -> HTTPAnswer {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
            throw HealthImagingLocalServerError(description: "not an HTTP response (\(bytes.count) bytes)")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw HealthImagingLocalServerError(description: "bad status line \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[(end + 4)...])
        if let length = headers["content-length"].flatMap(Int.init), body.count > length { body = Array(body[..<length]) }
        return HTTPAnswer(status: status, headers: headers, body: body)
    }
}
