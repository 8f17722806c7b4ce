import HealthImagingJSON
import HealthImagingDICOM
/// The seam to the parts other rooms build: DICOM parsing and the metadata document (DICOM/), frame encoding
/// (Imaging/) and frame storage (Store+Frames). Every import path calls these and nothing else of them.
enum ImportCodec {
    /// The file parsed, its frames decoded one at a time by the caller.
    static func open(_ bytes: [UInt8], limits: DICOMLimits) throws(DICOMFileError) -> DICOMFrameSource {
        try DICOMReader.open(bytes, limits: limits)
    }

    /// The same from bytes [offset, offset + length) of a file on disk, never read whole (S4).
    static func open(path: String, offset: Int, length: Int, limits: DICOMLimits) throws(DICOMFileError) -> DICOMFrameSource {
        try DICOMReader.open(path: path, offset: offset, length: length, limits: limits)
    }

    static func store(_ frame: PixelFrame, format: LosslessStorageFormat) throws -> StoredFrame {
        try FrameCodec.store(frame, format: format)
    }

    /// The document of an image set after `files` join it (`document` nil: a new image set).
    static func document(adding files: [ImportedFile], to document: JSONValue?, datastoreId: String, imageSetId: String) -> JSONValue {
        MetadataDocument.adding(files.map { (instance: $0.instance, frames: $0.frames) }, to: document,
                                datastoreId: datastoreId, imageSetId: imageSetId)
    }

    /// Stores the frames of `files` under the image set (inside the caller's transaction).
    static func insertFrames(_ store: Store, _ namespace: Namespace, datastoreId: String, imageSetId: String, _ files: [ImportedFile]) throws {
        guard let key = try store.imageSetKey(namespace, datastoreId, imageSetId) else { return }
        for file in files {
            for frame in file.frames { try store.insertFrame(imageSet: key, frameId: frame.id, frame.frame) }
        }
    }
}
