#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HealthImagingHTTP

/// WADO-RS `multipart/related` answers: `Content-Type: multipart/related; type="<part type>"; boundary=<b>`, each
/// part `--b CRLF Content-Type: <part type>[; transfer-syntax=<uid>] CRLF CRLF <bytes> CRLF`, closed by `--b--`.
enum RelatedParts {
    static func response(parts: [[UInt8]], type: String, transferSyntax: String?) -> Response {
        let boundary = boundaryFor(parts)
        let partHeader = Array("Content-Type: \(type)\(transferSyntax.map { "; transfer-syntax=\($0)" } ?? "")\r\n\r\n".utf8)
        var body: [UInt8] = []
        body.reserveCapacity(parts.reduce(64) { $0 + $1.count + partHeader.count + boundary.utf8.count + 8 })
        for part in parts {
            body += Array("--\(boundary)\r\n".utf8)
            body += partHeader
            body += part
            body += [0x0D, 0x0A]
        }
        body += Array("--\(boundary)--\r\n".utf8)
        return Response(status: 200, headers: [
            ("Content-Type", "multipart/related; type=\"\(type)\"; boundary=\(boundary)"),
        ], body: body)
    }

    /// A boundary none of the parts contains (a fixed prefix and a counter; checked, not assumed).
    static func boundaryFor(_ parts: [[UInt8]]) -> String {
        var attempt = 0
        while true {
            let candidate = "hil-dicomweb-\(String(UInt64(0x5EED_0000_0000) &+ UInt64(attempt), radix: 16))"
            let needle = Array(("--" + candidate).utf8)
            if !parts.contains(where: { MultipartSource.firstIndex(of: needle, in: $0) != nil }) { return candidate }
            attempt += 1
        }
    }
}
