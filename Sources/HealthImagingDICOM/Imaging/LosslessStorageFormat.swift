/// The encoding a datastore stores lossless frames in (`CreateDatastore`'s `losslessStorageFormat`).
public enum LosslessStorageFormat: String, CaseIterable, Sendable {
    case htj2k = "HTJ2K"
    case jpeg2000Lossless = "JPEG_2000_LOSSLESS"
}
