import Crypto
import Foundation

/// Opaque pagination tokens: a position, sealed with an HMAC-SHA256 over the position *and* the request's
/// scope (operation, namespace, resource ids). The scope is not carried in the token, so a token from another
/// image set, datastore, account or operation fails the MAC check exactly like a tampered one.
/// Format: base64url( 0x01 ‖ position bytes ‖ first 16 bytes of HMAC(key, scope ‖ 0x00 ‖ 0x01 ‖ position) ).
public struct PageTokenCodec {
    static let formatVersion: UInt8 = 1
    static let macLength = 16
    let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    public func seal(_ position: [UInt8], scope: String) -> String {
        var payload: [UInt8] = [Self.formatVersion]
        payload.append(contentsOf: position)
        let mac = self.mac(payload, scope: scope)
        return Self.base64url(payload + mac)
    }

    /// The position sealed in `token` for `scope`; a ValidationException when it is not one of ours for it.
    public func open(_ token: String, scope: String) throws(APIError) -> [UInt8] {
        let invalid = APIError.validation("Invalid nextToken: the token is malformed, expired or was issued for another request")
        guard token.utf8.count <= 8192, let bytes = Self.unbase64url(token),
            bytes.count > 1 + Self.macLength, bytes[0] == Self.formatVersion
        else { throw invalid }
        let payload = Array(bytes[..<(bytes.count - Self.macLength)])
        let mac = Array(bytes[(bytes.count - Self.macLength)...])
        // Constant-time comparison of the truncated MAC.
        let expected = self.mac(payload, scope: scope)
        var difference: UInt8 = 0
        for index in 0..<Self.macLength { difference |= expected[index] ^ mac[index] }
        guard difference == 0 else { throw invalid }
        return Array(payload.dropFirst())
    }

    private func mac(_ payload: [UInt8], scope: String) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: Array(scope.utf8))
        hmac.update(data: [0])
        hmac.update(data: payload)
        return Array(Array(hmac.finalize()).prefix(Self.macLength))
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func unbase64url(_ text: String) -> [UInt8]? {
        guard text.utf8.allSatisfy({ byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }
}

extension PageTokenCodec {
    /// A big-endian Int64 position (e.g. the last version id returned).
    public func seal(int64 position: Int64, scope: String) -> String {
        seal(withUnsafeBytes(of: position.bigEndian) { Array($0) }, scope: scope)
    }

    public func openInt64(_ token: String, scope: String) throws(APIError) -> Int64 {
        let bytes = try open(token, scope: scope)
        guard bytes.count == 8 else {
            throw .validation("Invalid nextToken: the token is malformed, expired or was issued for another request")
        }
        return bytes.reduce(Int64(0)) { ($0 << 8) | Int64($1) }
    }
}
