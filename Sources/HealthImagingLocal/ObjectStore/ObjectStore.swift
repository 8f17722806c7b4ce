/// Where import jobs read DICOM files and write their output: an S3-like key space. Two implementations:
/// `FolderObjectStore` (`--s3-dir DIR`: `s3://bucket/key` is the file `DIR/bucket/key`) and `S3Client`
/// (`--s3-endpoint URL`: any S3-compatible server, path-style, SigV4). Called from the import worker thread only.
public protocol ObjectStore: Sendable {
    /// Every object under `prefix` in `bucket` (all pages), in key order.
    func list(bucket: String, prefix: String) throws(ObjectStoreError) -> [ObjectInfo]
    func get(bucket: String, key: String) throws(ObjectStoreError) -> [UInt8]
    func put(bucket: String, key: String, _ data: [UInt8], contentType: String) throws(ObjectStoreError)
    /// Names the store in messages (`--s3-dir /x`, `--s3-endpoint http://…`).
    var label: String { get }
}

/// One listed object.
public struct ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int

    public init(key: String, size: Int) {
        self.key = key
        self.size = size
    }
}

/// Why an object store call failed. `message` names the cause and, where one helps, the flag to set.
public struct ObjectStoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case notConfigured
        case noSuchBucket
        case noSuchKey
        /// Cannot connect, or no answer in time.
        case unreachable
        /// The server answered with an error (credentials, permissions, anything else).
        case refused
        case io
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The object store used when neither `--s3-dir` nor `--s3-endpoint` is given: every call fails, saying so.
public struct UnconfiguredObjectStore: ObjectStore {
    public init() {}
    public var label: String { "no S3 source" }
    private var error: ObjectStoreError {
        ObjectStoreError(.notConfigured, "no S3 source is configured: start healthimaging-local with --s3-dir DIR (s3://bucket/key is DIR/bucket/key) or --s3-endpoint URL (an S3-compatible server)")
    }
    public func list(bucket: String, prefix: String) throws(ObjectStoreError) -> [ObjectInfo] { throw error }
    public func get(bucket: String, key: String) throws(ObjectStoreError) -> [UInt8] { throw error }
    public func put(bucket: String, key: String, _ data: [UInt8], contentType: String) throws(ObjectStoreError) { throw error }
}

/// An `s3://bucket/key-or-prefix` URI taken apart.
public struct S3Location: Sendable, Equatable {
    public var bucket: String
    public var key: String

    public init(bucket: String, key: String) {
        self.bucket = bucket
        self.key = key
    }

    /// Parses a URI that already passed `Validate.isS3Uri`.
    public init?(_ uri: String) {
        guard uri.hasPrefix("s3://") else { return nil }
        let rest = uri.dropFirst(5)
        let bucket = rest.prefix { $0 != "/" }
        guard !bucket.isEmpty else { return nil }
        self.bucket = String(bucket)
        self.key = String(rest.dropFirst(bucket.count).drop { $0 == "/" })
    }

    public var uri: String { "s3://\(bucket)/\(key)" }

    /// This location as a folder prefix (ends with `/` unless empty).
    public var folder: S3Location {
        S3Location(bucket: bucket, key: key.isEmpty || key.hasSuffix("/") ? key : key + "/")
    }

    public func appending(_ name: String) -> S3Location { S3Location(bucket: bucket, key: folder.key + name) }
}
