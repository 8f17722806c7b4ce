/// Enums of the service model (medical-imaging 2023-07-19), spelled exactly as on the wire.
public enum ImageSetState: String, CaseIterable, Sendable {
    case active = "ACTIVE"
    case locked = "LOCKED"
    case deleted = "DELETED"
}

public enum ImageSetWorkflowStatus: String, CaseIterable, Sendable {
    case created = "CREATED"
    case copied = "COPIED"
    case copying = "COPYING"
    case copyingWithReadOnlyAccess = "COPYING_WITH_READ_ONLY_ACCESS"
    case copyFailed = "COPY_FAILED"
    case updating = "UPDATING"
    case updatingForStudyConsistency = "UPDATING_FOR_STUDY_CONSISTENCY"
    case updated = "UPDATED"
    case updateFailed = "UPDATE_FAILED"
    case deleting = "DELETING"
    case deleted = "DELETED"
    case importing = "IMPORTING"
    case imported = "IMPORTED"
    case importFailed = "IMPORT_FAILED"
}

public enum DatastoreStatus: String, CaseIterable, Sendable {
    case creating = "CREATING"
    case createFailed = "CREATE_FAILED"
    case active = "ACTIVE"
    case deleting = "DELETING"
    case deleted = "DELETED"
}

