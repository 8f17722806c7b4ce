import Crypto
import Testing
@testable import HealthImagingLocal

@Suite struct PageTokenTests {
    let codec = PageTokenCodec(key: SymmetricKey(size: .bits256))

    @Test func roundTripsAPosition() throws {
        let token = codec.seal(int64: 42, scope: "a")
        #expect(try codec.openInt64(token, scope: "a") == 42)
    }

    @Test func isNotABareNumber() {
        let token = codec.seal(int64: 3, scope: "a")
        #expect(Int(token) == nil)
        #expect(!token.contains("3") || token.count > 20)
    }

    @Test func refusesATokenForAnotherScope() {
        let token = codec.seal(int64: 3, scope: "ListImageSetVersions/a/b")
        #expect(throws: APIError.self) { try codec.openInt64(token, scope: "ListImageSetVersions/a/c") }
    }

    @Test func refusesATamperedToken() throws {
        let token = codec.seal(int64: 3, scope: "s")
        var bytes = try #require(PageTokenCodec.unbase64url(token))
        bytes[5] ^= 0x01
        let tampered = PageTokenCodec.base64url(bytes)
        #expect(throws: APIError.self) { try codec.openInt64(tampered, scope: "s") }
    }

    @Test func refusesATokenFromAnotherKey() {
        let other = PageTokenCodec(key: SymmetricKey(size: .bits256))
        #expect(throws: APIError.self) { try codec.openInt64(other.seal(int64: 3, scope: "s"), scope: "s") }
    }

    @Test(arguments: ["", "!!!", "AQ", String(repeating: "A", count: 9000), "%%%"])
    func refusesGarbage(_ token: String) {
        #expect(throws: APIError.self) { try codec.openInt64(token, scope: "s") }
    }
}
