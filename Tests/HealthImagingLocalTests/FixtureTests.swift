import Testing
@testable import HealthImagingLocal

@Suite struct FixtureTests {
    static let valid = """
        {"datastores": [{"datastoreId": "12345678901234567890123456789012", "datastoreName": "seed",
          "imageSets": [{"imageSetId": "ea92b0d8838c72a3f25d00d13616f87e", "versions": [
            {"imageSetId": "ea92b0d8838c72a3f25d00d13616f87e", "versionId": "2", "imageSetState": "ACTIVE",
             "ImageSetWorkflowStatus": "COPY_FAILED", "createdAt": 1680027126.436, "updatedAt": "2023-03-28T18:10:36.304000+00:00",
             "message": "INVALID_REQUEST:  Series of SourceImageSet and DestinationImageSet don't match.",
             "overrides": {"forced": true}, "isPrimary": false},
            {"imageSetId": "ea92b0d8838c72a3f25d00d13616f87e", "versionId": "1", "imageSetState": "LOCKED"}]}]}]}
        """

    func issues(_ text: String) -> [FixtureIssue] {
        do {
            _ = try Fixture.decode(Array(text.utf8), source: "test.json")
            return []
        } catch {
            return error.issues
        }
    }

    @Test func decodesEveryField() throws {
        let fixture = try Fixture.decode(Array(Self.valid.utf8), source: "test.json")
        let version = try #require(fixture.datastores.first?.imageSets.first?.versions.first)
        #expect(version.versionId == 2)
        #expect(version.workflowStatus == .copyFailed)
        #expect(version.createdAt == 1_680_027_126_436)
        #expect(version.updatedAt == 1_680_027_036_304)
        #expect(version.forced == true)
        #expect(version.isPrimary == false)
    }

    @Test func namesThePathAndReasonOfABadEnum() {
        let text = Self.valid.replacingOccurrences(of: "\"LOCKED\"", with: "\"FROZEN\"")
        let found = issues(text)
        #expect(found.count == 1)
        #expect(found.first?.path == "$.datastores[0].imageSets[0].versions[1].imageSetState")
        #expect(found.first?.reason.contains("FROZEN") == true)
    }

    @Test func reportsEveryProblemAtOnce() {
        let text = Self.valid
            .replacingOccurrences(of: "\"versionId\": \"1\"", with: "\"versionId\": \"one\"")
            .replacingOccurrences(of: "\"datastoreName\": \"seed\"", with: "\"datastoreName\": \"bad name!\"")
            .replacingOccurrences(of: "\"isPrimary\": false", with: "\"isPrimary\": 0, \"imageSetWorkflowStatus\": \"CREATED\"")
        let paths = Set(issues(text).map(\.path))
        #expect(paths == [
            "$.datastores[0].datastoreName",
            "$.datastores[0].imageSets[0].versions[0].isPrimary",
            "$.datastores[0].imageSets[0].versions[0].imageSetWorkflowStatus",
            "$.datastores[0].imageSets[0].versions[1].versionId",
        ])
    }

    @Test func refusesAVersionOfAnotherImageSetAndDuplicates() {
        let text = Self.valid.replacingOccurrences(of: "\"versionId\": \"1\"", with: "\"versionId\": \"2\"")
        #expect(issues(text).map(\.path) == ["$.datastores[0].imageSets[0].versions[1].versionId"])
        let foreign = Self.valid.replacingOccurrences(
            of: "{\"imageSetId\": \"ea92b0d8838c72a3f25d00d13616f87e\", \"versionId\": \"1\"",
            with: "{\"imageSetId\": \"00000000000000000000000000000000\", \"versionId\": \"1\"")
        #expect(issues(foreign).map(\.path) == ["$.datastores[0].imageSets[0].versions[1].imageSetId"])
    }

    @Test func reportsMalformedJSONWithItsPosition() {
        let found = issues("{\"datastores\": [}")
        #expect(found.first?.path == "$")
        #expect(found.first?.reason.contains("line 1") == true)
    }

    @Test func messagePatternIncludesTheSpaceToColonRange() {
        #expect(Validate.isMessage("INVALID_REQUEST:  Series of SourceImageSet and DestinationImageSet don't match."))
        #expect(!Validate.isMessage("tab\there"))
        #expect(!Validate.isMessage(""))
        #expect(!Validate.isMessage("semicolon;"))
    }
}
