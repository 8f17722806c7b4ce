import Testing
@testable import HealthImagingLocal
@testable import HealthImagingJSON
@testable import HealthImagingDICOM
@testable import HealthImagingHTTP

/// The test clock's parsing, storage tiers, access recording and the read cache's time limit. (The process-wide
/// clock offset itself is never moved here: suites run in parallel; the conformance tests move it, one server each.)
@Suite struct ClockAndTierTests {
    @Test func durationsParseOnlyPositiveWholeUnits() {
        #expect(ClockEndpoints.parse("31d") == Int64(2_678_400_000))
        #expect(ClockEndpoints.parse("90m") == 5_400_000)
        #expect(ClockEndpoints.parse("12h") == 43_200_000)
        #expect(ClockEndpoints.parse("1s") == 1000)
        for bad in ["0d", "-1d", "+1d", "1.5d", "31", "31w", "", "d", "1e3s", " 1d", "1d ", "99999999d", "１d"] {
            #expect(ClockEndpoints.parse(bad) == nil, "\(bad)")
        }
        #expect(ClockEndpoints.describe(31 * 86_400_000) == "31d")
        #expect(ClockEndpoints.describe(0) == "0s")
        #expect(ClockEndpoints.describe(90 * 60_000) == "90m")
        #expect(ClockEndpoints.describe(1500) == "1500ms")
    }

    @Test func theTierTurnsAfterThirtyDays() {
        let day: Int64 = 86_400_000
        #expect(StorageTier.of(lastAccessedAt: 0, now: 29 * day) == .frequentAccess)
        #expect(StorageTier.of(lastAccessedAt: 0, now: 30 * day - 1) == .frequentAccess)
        #expect(StorageTier.of(lastAccessedAt: 0, now: 30 * day) == .archiveInstantAccess)
        #expect(StorageTier.of(lastAccessedAt: nil, now: 300 * day) == .frequentAccess)
    }

    @Test func accessesAreRecordedToTheSecondAndSayWhenAnswersGoStale() throws {
        let store = try Store(path: nil)
        let namespace = Namespace(account: "123456789012", region: "us-east-1")
        try store.insertDatastore(namespace, Datastore(datastoreId: String(repeating: "d", count: 32), name: "t"))
        let key = try store.insertImageSet(namespace, datastoreId: String(repeating: "d", count: 32),
                                           imageSetId: String(repeating: "e", count: 32), lastAccessedAt: 1_000_000)
        #expect(try store.storageTier(imageSet: key, now: 1_000_000 + StorageTier.archiveAfterMillis) == (.archiveInstantAccess, 1_000_000))
        store.answerValidUntil = nil
        #expect(try store.storageTier(imageSet: key, now: 1_000_500).tier == .frequentAccess)
        #expect(store.answerValidUntil == 1_000_000 + StorageTier.archiveAfterMillis)
        // Within a second of the recorded access: nothing written; the answer is good until that second is over.
        store.answerValidUntil = nil
        let changes = store.database.totalChanges
        try store.touchImageSet(key, now: 1_000_999)
        #expect(store.database.totalChanges == changes)
        #expect(try store.lastAccessedAt(imageSet: key) == 1_000_000)
        #expect(store.answerValidUntil == 1_001_000)
        try store.touchImageSet(key, now: 1_001_000)
        #expect(try store.lastAccessedAt(imageSet: key) == 1_001_000)
    }

    @Test func aCachedAnswerExpiresAtItsTime() throws {
        let store = try Store(path: nil)
        store.mayHavePendingTransitions = false
        var cache = ResponseCache(budget: 1 << 20)
        _ = cache.lookup("warm", store: store)
        store.answerValidUntil = Timestamp.nowMillis() - 1
        cache.store(Response(json: Array("{}".utf8)), for: "stale", store: store)
        store.answerValidUntil = Timestamp.nowMillis() + 3_600_000
        cache.store(Response(json: Array("{}".utf8)), for: "fresh", store: store)
        store.answerValidUntil = nil
        cache.store(Response(json: Array("{}".utf8)), for: "timeless", store: store)
        #expect(cache.lookup("stale", store: store) == nil)
        #expect(cache.lookup("fresh", store: store) != nil)
        #expect(cache.lookup("timeless", store: store) != nil)
    }

    @Test func binarySegmentationFramesArePackedBackIntoBits() {
        #expect(ImportCases.packBits([1, 0, 0, 0, 0, 0, 0, 1, 1]) == [0x81, 0x01])
        let frame = PixelFrame(columns: 3, rows: 3, samplesPerPixel: 1, bitsAllocated: 1, bitsStored: 1, isSigned: false,
                               samples: [1, 1, 0, 0, 0, 0, 0, 0, 1])
        let kept = ImportCases.keepBinarySegmentation(frame)
        #expect(kept.original == EncodedFrame(transferSyntaxUID: "1.2.840.10008.1.2.1", data: [0x03, 0x01]))
        let byte = PixelFrame(columns: 1, rows: 1, samplesPerPixel: 1, bitsAllocated: 8, bitsStored: 8, isSigned: false, samples: [7])
        #expect(ImportCases.keepBinarySegmentation(byte).original == nil)
        #expect(ImportCases.byteSwapped([1, 2, 3, 4, 5, 6, 7, 8], size: 4) == [4, 3, 2, 1, 8, 7, 6, 5])
    }

    @Test func aForcedCopyKeepsTheDestinationSeriesAttributes() throws {
        func document(_ modality: String, _ sop: String) throws -> JSONValue {
            try JSONParser.parse(Array("""
                {"Patient":{"DICOM":{"PatientName":"\(modality)"}},"Study":{"DICOM":{"StudyID":"\(modality)"},"Series":{"1.2":{
                "DICOM":{"Modality":"\(modality)"},"Instances":{"\(sop)":{"DICOM":{"SOPInstanceUID":"\(sop)"}}}}}}}
                """.utf8))
        }
        let merged = DICOMDocument.merge(source: try document("MR", "1.2.9"), into: try document("CT", "1.2.1"), force: true)
        #expect(merged.value(at: ["Study", "Series", "1.2", "DICOM", "Modality"]) == .string("CT"))
        #expect(merged.value(at: ["Patient", "DICOM", "PatientName"]) == .string("CT"))
        #expect(merged.value(at: ["Study", "Series", "1.2", "Instances"])?.objectMembers?.map(\.key) == ["1.2.1", "1.2.9"])
        let unforced = DICOMDocument.merge(source: try document("MR", "1.2.9"), into: try document("CT", "1.2.1"))
        #expect(unforced.value(at: ["Study", "Series", "1.2", "DICOM", "Modality"]) == .string("MR"))
    }
}
