import Testing
@testable import HealthImagingLocal
@testable import HealthImagingHTTP

/// SigV4 verification against the AWS Signature Version 4 test suite's `get-vanilla` case, and the answers to
/// what is wrong with a request.
@Suite struct SigV4Tests {
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let signature = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    let verifier = SignatureVerifier(secrets: ["AKIDEXAMPLE": SigV4Tests.secret], service: "service")
    let signedAt = SigV4.epochSeconds(amzDate: "20150830T123600Z")!

    func vanilla(signature: String = SigV4Tests.signature, key: String = "AKIDEXAMPLE", path: String = "/") -> Request {
        Request(method: "GET", uri: path, headers: [
            ("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=\(key)/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=\(signature)"),
        ])
    }

    @Test func acceptsTheTestSuitesVanillaRequest() {
        #expect(verifier.verify(vanilla(), now: signedAt) == nil)
        #expect(verifier.verify(vanilla(), now: signedAt + 14 * 60) == nil)
    }

    @Test func refusesAWrongSignatureAnUnknownKeyAndAnotherPath() {
        #expect(verifier.verify(vanilla(signature: String(repeating: "0", count: 64)), now: signedAt)?.code == .invalidSignature)
        #expect(verifier.verify(vanilla(key: "AKIDOTHER"), now: signedAt)?.code == .unrecognizedClient)
        #expect(verifier.verify(vanilla(path: "/other"), now: signedAt)?.message == SigV4.mismatch)
    }

    @Test func refusesAnOldRequestWithAWSWording() {
        let error = verifier.verify(vanilla(), now: signedAt + 16 * 60)
        #expect(error?.code == .invalidSignature)
        #expect(error?.message == "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)")
    }

    @Test func unsignedAndMalformed() {
        #expect(verifier.verify(Request(method: "GET", uri: "/"), now: signedAt)?.code == .missingAuthenticationToken)
        let malformed = Request(method: "GET", uri: "/", headers: [("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request")])
        let error = verifier.verify(malformed, now: signedAt)
        #expect(error?.code == .incompleteSignature)
        #expect(error?.code.status == 400)
    }

    @Test func datesRoundTrip() {
        #expect(SigV4.amzDate(signedAt) == "20150830T123600Z")
        #expect(SigV4.epochSeconds(amzDate: "19700101T000000Z") == 0)
        #expect(SigV4.amzDate(951_782_400) == "20000229T000000Z")
    }

    @Test func canonicalPathIsEncodedTwiceAndQuerySorted() {
        #expect(SigV4.canonicalURI("/tags/arn%3Aaws") == "/tags/arn%253Aaws")
        #expect(SigV4.canonicalURI("/a/./b/../c") == "/a/c")
        #expect(SigV4.canonicalQuery("b=2&a=x%20y&a=1", presigned: false) == "a=1&a=x%20y&b=2")
        #expect(SigV4.canonicalQuery("X-Amz-Signature=abc&Z=1", presigned: true) == "Z=1")
    }

    @Test func regionsAndAccounts() {
        for good in ["us-east-1", "us-gov-west-1", "us-iso-east-1", "us-isob-east-1", "eu-central-2"] {
            #expect(Regions.isRegionName(good), "\(good)")
        }
        for bad in ["nowhere", "us-east", "US-EAST-1", "us-east-12", "us--1", "us-foo-east-1", "u-east-1"] {
            #expect(!Regions.isRegionName(bad), "\(bad)")
        }
        #expect(Regions.isAccountId("111111111111") && !Regions.isAccountId("11111111111") && !Regions.isAccountId("abc"))
    }

    @Test func credentialsFromFlagsAndFiles() throws {
        #expect(SignatureVerifier.credential("a:b:c").map { [$0.accessKeyId, $0.secret] } == ["a", "b:c"])
        #expect(SignatureVerifier.credential("nocolon") == nil)
        let pairs = try SignatureVerifier.credentials(file: "# x\nk1:s1\n[p]\naws_access_key_id = k2\naws_secret_access_key = s2\n", source: "f")
        #expect(pairs.map(\.accessKeyId) == ["k1", "k2"])
        #expect(throws: FixtureError.self) { try SignatureVerifier.credentials(file: "garbage\n", source: "f") }
    }

    @Test func controlTokenCheck() {
        #expect(ControlAccess.refusal(Request(method: "GET", uri: "/"), token: nil) == nil)
        #expect(ControlAccess.refusal(Request(method: "GET", uri: "/"), token: "t")?.status == 401)
        #expect(ControlAccess.refusal(Request(method: "GET", uri: "/", headers: [("Authorization", "Bearer x")]), token: "t")?.status == 403)
        #expect(ControlAccess.refusal(Request(method: "GET", uri: "/", headers: [("Authorization", "Bearer t")]), token: "t") == nil)
        #expect(!ControlAccess.tokenMatches("t", token: "tt") && ControlAccess.tokenMatches("tt", token: "tt"))
    }
}

/// What `--host` prints and warns about.
@Suite struct ListenAddressTests {
    @Test func wildcardsPrintALoopbackURL() {
        #expect(ListenAddress.clientURL(host: "0.0.0.0", port: 7890) == "http://127.0.0.1:7890")
        #expect(ListenAddress.clientURL(host: "::", port: 1) == "http://[::1]:1")
        #expect(ListenAddress.clientURL(host: "192.168.1.5", port: 2) == "http://192.168.1.5:2")
        #expect(ListenAddress.clientURL(host: "fe80::1", port: 3) == "http://[fe80::1]:3")
    }

    @Test func onlyNonLoopbackAddressesWarn() {
        var configuration = Emulator.Configuration()
        #expect(ListenAddress.exposureWarning(host: "127.0.0.1", port: 1, configuration: configuration) == nil)
        #expect(ListenAddress.exposureWarning(host: "::1", port: 1, configuration: configuration) == nil)
        #expect(ListenAddress.exposureWarning(host: "0.0.0.0", port: 1, configuration: configuration)?.contains("WITHOUT authentication") == true)
        configuration.controlToken = "t"
        #expect(ListenAddress.exposureWarning(host: "0.0.0.0", port: 1, configuration: configuration)?.contains("guarded by --control-token") == true)
    }
}
