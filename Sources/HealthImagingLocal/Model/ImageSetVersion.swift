/// One version of an image set: the `ImageSetProperties` shape. Timestamps are epoch milliseconds.
public struct ImageSetVersion: Equatable, Sendable {
    public var imageSetId: String
    public var versionId: Int64
    public var state: ImageSetState
    public var workflowStatus: ImageSetWorkflowStatus?
    public var createdAt: Int64?
    public var updatedAt: Int64?
    public var deletedAt: Int64?
    public var message: String?
    public var forced: Bool?
    public var isPrimary: Bool?

    public init(
        imageSetId: String, versionId: Int64, state: ImageSetState, workflowStatus: ImageSetWorkflowStatus? = nil,
        createdAt: Int64? = nil, updatedAt: Int64? = nil, deletedAt: Int64? = nil, message: String? = nil,
        forced: Bool? = nil, isPrimary: Bool? = nil
    ) {
        self.imageSetId = imageSetId
        self.versionId = versionId
        self.state = state
        self.workflowStatus = workflowStatus
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deletedAt = deletedAt
        self.message = message
        self.forced = forced
        self.isPrimary = isPrimary
    }
}

/// A datastore as stored.
public struct Datastore: Equatable, Sendable {
    public var datastoreId: String
    public var name: String?
    public var status: DatastoreStatus
    public var createdAt: Int64?
    public var updatedAt: Int64?

    public init(datastoreId: String, name: String?, status: DatastoreStatus = .active, createdAt: Int64? = nil, updatedAt: Int64? = nil) {
        self.datastoreId = datastoreId
        self.name = name
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
