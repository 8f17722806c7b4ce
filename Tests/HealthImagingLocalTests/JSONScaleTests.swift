import Testing
@testable import HealthImagingJSON
@testable import HealthImagingLocal

@Suite struct JSONScaleTests {
    @Test func parsesALargeObjectAndFindsADuplicateInIt() throws {
        var text = "{"
        for index in 0..<100_000 { text += "\"k\(index)\":0," }
        let unique = Array((text.dropLast() + "}").utf8)
        guard case .object(let members) = try JSONParser.parse(unique) else {
            Issue.record("not an object")
            return
        }
        #expect(members.count == 100_000)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(Array((text + "\"k99999\":1}").utf8)) }
    }

    @Test func validationMessagesNameAtMostTenProblems() {
        let body = JSONValue.object((0..<1000).map { (key: "k\($0)", value: JSONValue.null) })
        do {
            _ = try JSONReader.validated(body) { reader -> Bool? in reader.object(allowed: ["a"]) ? true : nil }
            Issue.record("no error")
        } catch {
            #expect(error.message.contains("… and 990 more"))
            #expect(error.message.count < 3000)
        }
    }
}
