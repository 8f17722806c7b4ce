/// The seam to the parts other rooms build: DICOM parsing and the metadata document (DICOM/), frame encoding
/// and frame storage (Imaging/, Store). Every import path calls these and nothing else of them.
enum ImportCodec {
    static func read(_ bytes: [UInt8]) throws(DICOMFileError) -> DICOMInstance {
        // Placeholder until DICOMReader lands (branch dicom).
        throw DICOMFileError(exceptionType: "UnsupportedException", message: "DICOM parsing is not built into this emulator yet")
    }

    static func store(_ frame: PixelFrame, format: LosslessStorageFormat) throws -> StoredFrame {
        throw DICOMFileError(exceptionType: "InternalServerException", message: "Frame encoding is not built into this emulator yet")
    }

    /// The document of an image set after `files` join it (`document` nil: a new image set).
    static func document(adding files: [ImportedFile], to document: JSONValue?, datastoreId: String, imageSetId: String) -> JSONValue {
        document ?? .object([("SchemaVersion", .string("1.1")), ("DatastoreID", .string(datastoreId)), ("ImageSetID", .string(imageSetId))])
    }

    static func insertFrames(_ store: Store, _ namespace: Namespace, datastoreId: String, imageSetId: String, _ files: [ImportedFile]) throws {
    }
}
