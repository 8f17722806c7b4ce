import HealthImagingJSON
/// The 19 HealthImaging EventBridge detail-types, each tied to one status value (docs/events-and-time.md,
/// "Events"). Statuses without a detail-type (IMPORTING, IMPORTED, IMPORT_FAILED, UPDATING_FOR_STUDY_CONSISTENCY)
/// announce nothing by themselves.
public enum EventDetailType: String, CaseIterable, Sendable {
    case datastoreCreating = "Data Store Creating"
    case datastoreCreationFailed = "Data Store Creation Failed"
    case datastoreCreated = "Data Store Created"
    case datastoreDeleting = "Data Store Deleting"
    case datastoreDeleted = "Data Store Deleted"
    case importJobSubmitted = "Import Job Submitted"
    case importJobInProgress = "Import Job In Progress"
    case importJobCompleted = "Import Job Completed"
    case importJobFailed = "Import Job Failed"
    case imageSetCreated = "Image Set Created"
    case imageSetCopying = "Image Set Copying"
    case imageSetCopyingWithReadOnlyAccess = "Image Set Copying With Read Only Access"
    case imageSetCopied = "Image Set Copied"
    case imageSetCopyFailed = "Image Set Copy Failed"
    case imageSetUpdating = "Image Set Updating"
    case imageSetUpdated = "Image Set Updated"
    case imageSetUpdateFailed = "Image Set Update Failed"
    case imageSetDeleting = "Image Set Deleting"
    case imageSetDeleted = "Image Set Deleted"

    init?(_ status: DatastoreStatus) {
        switch status {
        case .creating: self = .datastoreCreating
        case .createFailed: self = .datastoreCreationFailed
        case .active: self = .datastoreCreated
        case .deleting: self = .datastoreDeleting
        case .deleted: self = .datastoreDeleted
        }
    }

    init(_ status: JobStatus) {
        switch status {
        case .submitted: self = .importJobSubmitted
        case .inProgress: self = .importJobInProgress
        case .completed: self = .importJobCompleted
        case .failed: self = .importJobFailed
        }
    }

    init?(_ status: ImageSetWorkflowStatus?) {
        switch status {
        case .created?: self = .imageSetCreated
        case .copying?: self = .imageSetCopying
        case .copyingWithReadOnlyAccess?: self = .imageSetCopyingWithReadOnlyAccess
        case .copied?: self = .imageSetCopied
        case .copyFailed?: self = .imageSetCopyFailed
        case .updating?: self = .imageSetUpdating
        case .updated?: self = .imageSetUpdated
        case .updateFailed?: self = .imageSetUpdateFailed
        case .deleting?: self = .imageSetDeleting
        case .deleted?: self = .imageSetDeleted
        default: return nil
        }
    }

    var isImageSetEvent: Bool { rawValue.hasPrefix("Image Set ") }
}

/// One event as the service would put it on the default bus: the EventBridge envelope and the HealthImaging
/// `detail`, built from the store at the moment of the change (so it says what GetImageSet / GetDatastore /
/// GetDICOMImportJob say then), and published once that change is committed.
public struct ServiceEvent: Sendable {
    /// Order of publication over the whole server (1, 2, …); `?since=` polls by it.
    public var sequence = 0
    /// A version-4 UUID, new for every event.
    public var id: String
    public var detailType: EventDetailType
    public var namespace: Namespace
    /// Epoch milliseconds (from `Timestamp.nowMillis()`); written at second precision.
    public var time: Int64
    public var resources: [String]
    public var datastoreId: String
    public var imageSetId: String?
    public var jobId: String?
    /// The `detail` object.
    public var detail: JSONValue

    public static let source = "aws.medical-imaging"

    /// `YYYY-MM-DDTHH:MM:SSZ`, as EventBridge writes `time`.
    public static func isoSeconds(_ millis: Int64) -> String {
        Timestamp.utcText(millis: millis, separator: "T", withMillis: false, suffix: "Z")
    }

    /// The event as a rule's target receives it.
    func writeEnvelope(to json: inout JSONWriter) {
        json.object {
            $0.field("version", "0")
            $0.field("id", id)
            $0.field("detail-type", detailType.rawValue)
            $0.field("source", Self.source)
            $0.field("account", namespace.account)
            $0.field("time", Self.isoSeconds(time))
            $0.field("region", namespace.region)
            $0.field("resources", array: { list in for resource in resources { list.string(resource) } })
            $0.field("detail", raw: detail.serialized())
        }
    }

    /// One `PutEventsRequestEntry` (`Time` in epoch seconds, `Detail` a JSON string), for the default bus.
    func writePutEventsEntry(to json: inout JSONWriter) {
        json.object {
            $0.field("Source", Self.source)
            $0.field("DetailType", detailType.rawValue)
            $0.field("Detail", String(decoding: detail.serialized(), as: UTF8.self))
            $0.field("Resources", array: { list in for resource in resources { list.string(resource) } })
            $0.field("Time", Int64(time >= 0 ? time / 1000 : (time - 999) / 1000))
            $0.field("EventBusName", "default")
        }
    }
}
