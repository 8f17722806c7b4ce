import Testing
@testable import HealthImagingLocal
@testable import HealthImagingHTTP

@Suite struct RouterTests {
    var router: Router<String> = {
        var router = Router<String>()
        router.add("POST", "/datastore/{datastoreId}/imageSet/{imageSetId}/listImageSetVersions", "list")
        router.add("GET", "/tags/{resourceArn}", "tags")
        router.add("POST", "/tags/{resourceArn}", "tag")
        return router
    }()

    @Test func matchesAndCapturesParameters() {
        guard case .found(let target, let parameters) = router.match(method: "POST", path: "/datastore/a/imageSet/b/listImageSetVersions") else {
            Issue.record("no match")
            return
        }
        #expect(target == "list")
        #expect(parameters == ["datastoreId": "a", "imageSetId": "b"])
    }

    @Test func keepsAnEncodedSlashInsideOneSegment() {
        let path = "/tags/arn%3Aaws%3Amedical-imaging%3Aus-east-1%3A123456789012%3Adatastore%2Fabc"
        guard case .found(let target, let parameters) = router.match(method: "GET", path: path) else {
            Issue.record("no match")
            return
        }
        #expect(target == "tags")
        #expect(parameters["resourceArn"] == "arn:aws:medical-imaging:us-east-1:123456789012:datastore/abc")
    }

    @Test func tellsAWrongMethodFromAnUnknownPath() {
        guard case .wrongMethod(let allowed) = router.match(method: "DELETE", path: "/datastore/a/imageSet/b/listImageSetVersions") else {
            Issue.record("expected wrongMethod")
            return
        }
        #expect(allowed == ["POST"])
        guard case .notFound = router.match(method: "POST", path: "/datastore/a/imageSet/b") else {
            Issue.record("expected notFound")
            return
        }
        guard case .notFound = router.match(method: "POST", path: "/datastore//imageSet/b/listImageSetVersions") else {
            Issue.record("an empty parameter must not match")
            return
        }
    }

    @Test func parsesQueryStrings() {
        let request = Request(method: "GET", uri: "/x?maxResults=5&nextToken=a%2Bb&tagKeys=a&tagKeys=b+c&flag")
        #expect(request.path == "/x")
        #expect(request.query("maxResults") == "5")
        #expect(request.query("nextToken") == "a+b")
        #expect(request.queryValues("tagKeys") == ["a", "b c"])
        #expect(request.query("flag") == "")
    }
}
