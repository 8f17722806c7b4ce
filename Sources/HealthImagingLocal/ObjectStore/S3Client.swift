import CLibevent
#if canImport(Glibc)
import Glibc
#endif

/// `--s3-endpoint URL`: any S3-compatible server (moto, MinIO, LocalStack) spoken to with libevent's own HTTP
/// client, path-style (`http://host:port/bucket/key`), requests signed with SigV4 (`S3Client+SigV4.swift`) from
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) of the emulator's environment.
/// Each call runs a private `event_base` on the calling (worker) thread: nothing is shared with the server's loop.
/// Every call is bounded by `timeoutSeconds`, so an endpoint that never answers fails the job instead of hanging it.
public struct S3Client: ObjectStore {
    public struct Credentials: Sendable {
        public var accessKeyId: String
        public var secretAccessKey: String
        public var sessionToken: String?

        public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.accessKeyId = accessKeyId
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }

        /// From `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`; nil when either key is unset.
        public static func fromEnvironment() -> Credentials? {
            func variable(_ name: String) -> String? {
                guard let value = getenv(name) else { return nil }
                let text = String(cString: value)
                return text.isEmpty ? nil : text
            }
            guard let id = variable("AWS_ACCESS_KEY_ID"), let secret = variable("AWS_SECRET_ACCESS_KEY") else { return nil }
            return Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: variable("AWS_SESSION_TOKEN"))
        }
    }

    public let endpoint: String
    public let host: String
    public let port: UInt16
    /// A path the endpoint URL carries before the bucket (usually empty).
    public let basePath: String
    public let region: String
    public let credentials: Credentials?
    public var timeoutSeconds: Int32 = 30

    /// Parses `http://host[:port][/path]`; nil for anything else (TLS is not spoken: point it at a local server).
    public init?(endpoint: String, region: String, credentials: Credentials?) {
        guard endpoint.hasPrefix("http://") else { return nil }
        var rest = Substring(endpoint.dropFirst(7))
        let authority = rest.prefix { $0 != "/" }
        rest = rest.dropFirst(authority.count)
        var hostPart = Substring(authority)
        var port: UInt16 = 80
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { return nil }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") { guard let value = UInt16(after.dropFirst()) else { return nil }; port = value }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            guard let value = UInt16(hostPart[hostPart.index(after: colon)...]) else { return nil }
            port = value
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { return nil }
        self.endpoint = endpoint
        self.host = String(hostPart)
        self.port = port
        self.basePath = rest.hasSuffix("/") ? String(rest.dropLast()) : String(rest)
        self.region = region
        self.credentials = credentials
    }

    public var label: String { "--s3-endpoint \(endpoint)" }

    /// The Host header (and SigV4's host): the port only when not 80.
    var hostHeader: String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? shown : "\(shown):\(port)"
    }

    // MARK: operations

    public func list(bucket: String, prefix: String) throws(ObjectStoreError) -> [ObjectInfo] {
        var keys: [ObjectInfo] = []
        var token: String?
        for _ in 0..<100_000 {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let answer = try send("GET", bucket: bucket, key: nil, query: query, body: [])
            try check(answer, bucket: bucket, key: nil, action: "ListObjectsV2")
            let xml = String(decoding: answer.body, as: UTF8.self)
            for entry in S3XML.values("Contents", in: xml) {
                guard let key = S3XML.values("Key", in: entry).first else { continue }
                keys.append(ObjectInfo(key: key, size: Int(S3XML.values("Size", in: entry).first ?? "") ?? 0))
            }
            guard S3XML.values("IsTruncated", in: xml).first == "true",
                let next = S3XML.values("NextContinuationToken", in: xml).first, !next.isEmpty
            else { break }
            token = next
        }
        return keys
    }

    public func get(bucket: String, key: String) throws(ObjectStoreError) -> [UInt8] {
        let answer = try send("GET", bucket: bucket, key: key, query: [], body: [])
        try check(answer, bucket: bucket, key: key, action: "GetObject")
        return answer.body
    }

    public func put(bucket: String, key: String, _ data: [UInt8], contentType: String) throws(ObjectStoreError) {
        let answer = try send("PUT", bucket: bucket, key: key, query: [], body: data, contentType: contentType)
        try check(answer, bucket: bucket, key: key, action: "PutObject")
    }

    private func check(_ answer: (status: Int, body: [UInt8]), bucket: String, key: String?, action: String) throws(ObjectStoreError) {
        guard !(200..<300).contains(answer.status) else { return }
        let xml = String(decoding: answer.body.prefix(64 * 1024), as: UTF8.self)
        let code = S3XML.values("Code", in: xml).first ?? "HTTP \(answer.status)"
        let detail = S3XML.values("Message", in: xml).first.map { ": \($0)" } ?? ""
        switch code {
        case "NoSuchBucket":
            throw ObjectStoreError(.noSuchBucket, "bucket \(bucket) does not exist at --s3-endpoint \(endpoint) (\(action) answered NoSuchBucket)")
        case "NoSuchKey":
            throw ObjectStoreError(.noSuchKey, "s3://\(bucket)/\(key ?? "") does not exist at --s3-endpoint \(endpoint)")
        default:
            let credentials = answer.status == 403
                ? " - check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the emulator's environment and --region \(region)" : ""
            throw ObjectStoreError(.refused, "--s3-endpoint \(endpoint) refused \(action) on s3://\(bucket)/\(key ?? ""): \(code)\(detail)\(credentials)")
        }
    }

    // MARK: HTTP

    /// One request on a private event base; the answer's status and body. Status 0 never comes back: a request
    /// that got no answer throws `.unreachable`.
    func send(_ method: String, bucket: String, key: String?, query: [(String, String)], body: [UInt8],
              contentType: String? = nil) throws(ObjectStoreError) -> (status: Int, body: [UInt8]) {
        let path = basePath + "/" + SigV4.uriEncode(bucket, keepSlash: false) + (key.map { "/" + SigV4.uriEncode($0, keepSlash: true) } ?? "")
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try signedExchange(method, path: path, query: SigV4.canonicalQuery(query),
                                        headers: contentType.map { [("Content-Type", $0)] } ?? [], body: body)
        } catch {
            switch error {
            case .setup(let what): throw ObjectStoreError(.io, what)
            case .noConnection: throw ObjectStoreError(.unreachable, "cannot reach --s3-endpoint \(endpoint): no connection to \(host):\(port)")
            case .notSent: throw ObjectStoreError(.unreachable, "cannot reach --s3-endpoint \(endpoint): the request could not be sent")
            case .noAnswer:
                throw ObjectStoreError(.unreachable, "cannot reach --s3-endpoint \(endpoint) (\(host):\(port)): connection refused, closed or timed out after \(timeoutSeconds) s - is the S3 server running?")
            }
        }
        return answer
    }
}

/// Just enough XML for S3's answers: the texts of elements with a given name.
enum S3XML {
    static func values(_ element: String, in xml: String) -> [String] {
        var result: [String] = []
        let open = "<\(element)>", close = "</\(element)>"
        var rest = Substring(xml)
        while let start = rest.range(of: open) {
            rest = rest[start.upperBound...]
            guard let end = rest.range(of: close) else { break }
            result.append(unescape(rest[..<end.lowerBound]))
            rest = rest[end.upperBound...]
        }
        return result
    }

    static func unescape(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            rest = rest[amp...]
            guard let semicolon = rest.firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: rest.startIndex)..<semicolon]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var scalar: UInt32?
                if entity.hasPrefix("#x") { scalar = UInt32(entity.dropFirst(2), radix: 16) } else if entity.hasPrefix("#") { scalar = UInt32(entity.dropFirst()) }
                if let scalar, let value = Unicode.Scalar(scalar) { out.unicodeScalars.append(value) } else { out += "&\(entity);" }
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        out += rest
        return out
    }
}
