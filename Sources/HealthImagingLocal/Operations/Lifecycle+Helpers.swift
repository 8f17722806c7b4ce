import Foundation
import HealthImagingJSON

/// What the lifecycle operations share: request decoding, ARNs, looking up image sets with their pending
/// transitions settled, metadata documents and new ids.
extension Call {
    /// The request body as JSON; an empty body reads as `{}`.
    func jsonBody() throws(APIError) -> JSONValue {
        do {
            return try request.jsonBody()
        } catch {
            throw .validation("The request body is not valid JSON: \(error.description)")
        }
    }

    /// A boolean query parameter (`true` / `false`), false when absent.
    func boolQuery(_ name: String) throws(APIError) -> Bool {
        guard let value = request.query(name) else { return false }
        switch value.lowercased() {
        case "true": return true
        case "false": return false
        default: throw APIError.invalid(value, at: name, "Member must be a boolean (true or false)")
        }
    }

    /// A version-number query parameter (`\d+`), nil when absent.
    func versionQuery(_ name: String, member: String) throws(APIError) -> Int64? {
        guard let value = request.query(name) else { return nil }
        return try Validate.versionNumber(value, member: member)
    }
}

extension Namespace {
    public func datastoreArn(_ datastoreId: String) -> String {
        "arn:aws:medical-imaging:\(region):\(account):datastore/\(datastoreId)"
    }

    public func imageSetArn(_ datastoreId: String, _ imageSetId: String) -> String {
        "\(datastoreArn(datastoreId))/imageset/\(imageSetId)"
    }
}

/// An image set found for a request, its pending transitions settled.
struct ImageSetHandle {
    var key: Int64
    var datastoreId: String
    var imageSetId: String
    var latest: ImageSetVersion
}

extension Store {
    /// The datastore (its own transition settled), or ResourceNotFoundException.
    func requireDatastore(_ namespace: Namespace, _ datastoreId: String, read: Bool = false) throws -> Datastore {
        try settleDatastore(namespace, datastoreId, read: read)
        guard let datastore = try datastore(namespace, datastoreId) else {
            throw APIError.notFound("Datastore \(datastoreId) does not exist")
        }
        return datastore
    }

    /// The image set with its transitions settled (a read counts toward `manual:N`), or ResourceNotFoundException.
    func requireImageSet(_ namespace: Namespace, _ datastoreId: String, _ imageSetId: String, read: Bool) throws -> ImageSetHandle {
        _ = try requireDatastore(namespace, datastoreId)
        guard let key = try imageSetKey(namespace, datastoreId, imageSetId) else {
            throw APIError.notFound("Image set \(imageSetId) does not exist in datastore \(datastoreId)")
        }
        try settleImageSet(key, read: read)
        guard let latest = try latestVersion(imageSet: key, imageSetId: imageSetId) else {
            throw APIError.notFound("Image set \(imageSetId) does not exist in datastore \(datastoreId)")
        }
        return ImageSetHandle(key: key, datastoreId: datastoreId, imageSetId: imageSetId, latest: latest)
    }

    /// For a write: the datastore must be ACTIVE and the image set neither LOCKED nor DELETED.
    func requireWritableImageSet(_ namespace: Namespace, _ datastoreId: String, _ imageSetId: String) throws -> ImageSetHandle {
        let datastore = try requireDatastore(namespace, datastoreId)
        guard datastore.status == .active else {
            throw APIError.conflict("Datastore \(datastoreId) is \(datastore.status.rawValue), not ACTIVE")
        }
        let handle = try requireImageSet(namespace, datastoreId, imageSetId, read: false)
        switch handle.latest.state {
        case .locked:
            throw APIError.conflict("Image set \(imageSetId) is LOCKED (\(handle.latest.workflowStatus?.rawValue ?? "busy")); retry once it is ACTIVE")
        case .deleted:
            throw APIError.conflict("Image set \(imageSetId) is DELETED")
        case .active:
            return handle
        }
    }

    /// The metadata document of a version: the stored one, else the emulator's default for the image set; its
    /// frames prepared (every listed frame stored, its entry true: Store+FrameDocuments.swift).
    func document(_ handle: ImageSetHandle, versionId: Int64) throws -> JSONValue {
        if let bytes = try metadata(imageSet: handle.key, versionId: versionId), !bytes.isEmpty,
            let value = try? JSONParser.parse(bytes) {
            return try preparedDocument(handle, versionId: versionId, value)
        }
        return try preparedDocument(handle, versionId: versionId,
                                    DICOMDocument.makeDefault(datastoreId: handle.datastoreId, imageSetId: handle.imageSetId))
    }
}

enum ResourceIds {
    /// A new `[0-9a-z]{32}` id (lowercase hex of 128 random bits).
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef")
        return String((0..<32).map { _ in hex[Int(generator.next() % 16)] })
    }
}

extension ImageSetVersion {
    /// The `GetImageSet`-style members shared by several responses, with lowercase `imageSetWorkflowStatus`.
    func writeState(to json: inout JSONWriter) {
        json.field("imageSetState", state.rawValue)
        json.field("imageSetWorkflowStatus", workflowStatus?.rawValue)
    }
}
