import Foundation
import Testing
@testable import HealthImagingJSON
@testable import HealthImagingDICOM

@Suite struct MetadataDocumentTests {
    static func sample(_ name: String) throws -> DICOMInstance {
        try DICOMReader.read(Array(try Data(contentsOf: DICOMReaderTests.samples.appendingPathComponent(name))))
    }

    static func stored(_ frame: PixelFrame, syntax: String = "1.2.840.10008.1.2.4.202") -> StoredFrame {
        let range = MetadataDocument.pixelRange(frame)
        return StoredFrame(data: Array(repeating: 7, count: 100), transferSyntaxUID: syntax, contentType: "image/jph",
                           checksums: [ResolutionChecksum(width: frame.columns, height: frame.rows,
                                                          checksum: MetadataDocument.fullResolutionChecksum(frame))],
                           minPixelValue: range.min, maxPixelValue: range.max)
    }

    @Test func checksumIsZlibCRC32() {
        let frame = PixelFrame(columns: 9, rows: 1, samplesPerPixel: 1, bitsAllocated: 8, bitsStored: 8, isSigned: false,
                               samples: Array("123456789".utf8))
        #expect(MetadataDocument.fullResolutionChecksum(frame) == 0xCBF4_3926)
    }

    @Test func rangeReadsSignedLittleEndianSamples() {
        let frame = PixelFrame(columns: 3, rows: 1, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 16, isSigned: true,
                               samples: [0x18, 0xFC, 0x00, 0x00, 0x34, 0x01])
        #expect(MetadataDocument.pixelRange(frame) == (-1000, 308))
    }

    @Test func buildsTheDocumentByLevel() throws {
        let ct = try Self.sample("ct-01-explicit-le.dcm")
        let rgb = try Self.sample("sc-01-rgb-deflated.dcm")
        let doc = MetadataDocument.adding([
            (ct, [("frame-ct-1", Self.stored(ct.frames[0]))]),
            (rgb, [("frame-rgb-1", Self.stored(rgb.frames[0]))]),
        ], to: nil, datastoreId: "d" + String(repeating: "0", count: 31), imageSetId: "i" + String(repeating: "0", count: 31))
        #expect(doc["SchemaVersion"] == .string("1.1"))
        #expect(doc.value(at: ["Patient", "DICOM", "PatientID"]) == .string("HIL-SAMPLE-001"))
        #expect(doc.value(at: ["Study", "DICOM", "StudyInstanceUID"]) == .string(ct.studyInstanceUID))
        #expect(doc.value(at: ["Study", "DICOM", "AccessionNumber"]) == .string("HIL-ACC-0001"))
        let series = try #require(doc.value(at: ["Study", "Series"])?.objectMembers)
        #expect(series.map(\.key) == [ct.seriesInstanceUID, rgb.seriesInstanceUID])
        #expect(doc.value(at: ["Study", "Series", ct.seriesInstanceUID, "DICOM", "Modality"]) == .string("CT"))
        let instance = try #require(doc.value(at: ["Study", "Series", ct.seriesInstanceUID, "Instances", ct.sopInstanceUID]))
        #expect(instance.objectMembers?.map(\.key) == ["DICOM", "DICOMVRs", "StoredTransferSyntaxUID", "ChecksumType", "ImageFrames"])
        #expect(instance["StoredTransferSyntaxUID"] == .string("1.2.840.10008.1.2.4.202"))
        #expect(instance.value(at: ["DICOM", "SOPInstanceUID"]) == .string(ct.sopInstanceUID))
        #expect(instance.value(at: ["DICOM", "PatientID"]) == nil)
        guard case .array(let frames) = instance["ImageFrames"] else { Issue.record("no ImageFrames"); return }
        #expect(frames.count == 1)
        #expect(frames[0]["ID"] == .string("frame-ct-1"))
        #expect(frames[0]["MinPixelValue"] == .number("-1016"))
        #expect(frames[0]["FrameSizeInBytes"] == .number("100"))
        // Level keys in alphabetical order, as in the service's documents.
        let patientKeys = try #require(doc.value(at: ["Patient", "DICOM"])?.objectMembers).map(\.key)
        #expect(patientKeys == patientKeys.sorted())
        // The whole document is valid JSON that parses back to itself.
        #expect(try JSONParser.parse(doc.serialized()) == doc)
    }

    @Test func reimportingAnInstanceReplacesIt() throws {
        let ct = try Self.sample("ct-02-implicit-le.dcm")
        let first = MetadataDocument.adding([(ct, [("a", Self.stored(ct.frames[0]))])], to: nil, datastoreId: "d", imageSetId: "i")
        let second = MetadataDocument.adding([(ct, [("b", Self.stored(ct.frames[0]))])], to: first, datastoreId: "d", imageSetId: "i")
        let instances = try #require(second.value(at: ["Study", "Series", ct.seriesInstanceUID, "Instances"])?.objectMembers)
        #expect(instances.count == 1)
        #expect(instances[0].value["ImageFrames"] == .array([try #require({ () -> JSONValue? in
            if case .array(let f) = MetadataDocument.instanceObject(ct, frames: [("b", Self.stored(ct.frames[0]))])["ImageFrames"] { return f[0] }
            return nil
        }())]))
        let other = try Self.sample("ct-03-rle.dcm")
        let third = MetadataDocument.adding([(other, [("c", Self.stored(other.frames[0]))])], to: second, datastoreId: "d", imageSetId: "i")
        #expect(third.value(at: ["Study", "Series", ct.seriesInstanceUID, "Instances"])?.objectMembers?.count == 2)
    }

    @Test func framesKeptInTheirOriginalEncodingHaveNoMinMax() throws {
        let jpeg = try Self.sample("sc-03-rgb-jpeg-baseline.dcm")
        let doc = MetadataDocument.adding([(jpeg, [("f", Self.stored(jpeg.frames[0], syntax: "1.2.840.10008.1.2.4.50"))])],
                                          to: nil, datastoreId: "d", imageSetId: "i")
        let instance = try #require(doc.value(at: ["Study", "Series", jpeg.seriesInstanceUID, "Instances", jpeg.sopInstanceUID]))
        #expect(instance["StoredTransferSyntaxUID"] == .string("1.2.840.10008.1.2.4.50"))
        guard case .array(let frames) = instance["ImageFrames"] else { Issue.record("no ImageFrames"); return }
        #expect(frames[0]["MinPixelValue"] == .null)
        #expect(frames[0]["MaxPixelValue"] == .null)
    }
}
