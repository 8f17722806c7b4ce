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
    public var kmsKeyArn: String?
    public var lambdaAuthorizerArn: String?
    public var losslessStorageFormat: String?
    /// Tags in the order given (keys unique).
    public var tags: [(key: String, value: String)]

    public init(datastoreId: String, name: String?, status: DatastoreStatus = .active, createdAt: Int64? = nil, updatedAt: Int64? = nil,
                kmsKeyArn: String? = nil, lambdaAuthorizerArn: String? = nil, losslessStorageFormat: String? = nil,
                tags: [(key: String, value: String)] = []) {
        self.datastoreId = datastoreId
        self.name = name
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.kmsKeyArn = kmsKeyArn
        self.lambdaAuthorizerArn = lambdaAuthorizerArn
        self.losslessStorageFormat = losslessStorageFormat
        self.tags = tags
    }

    public static func == (lhs: Datastore, rhs: Datastore) -> Bool {
        lhs.datastoreId == rhs.datastoreId && lhs.name == rhs.name && lhs.status == rhs.status
            && lhs.createdAt == rhs.createdAt && lhs.updatedAt == rhs.updatedAt && lhs.kmsKeyArn == rhs.kmsKeyArn
            && lhs.lambdaAuthorizerArn == rhs.lambdaAuthorizerArn && lhs.losslessStorageFormat == rhs.losslessStorageFormat
            && lhs.tags.elementsEqual(rhs.tags, by: { $0.key == $1.key && $0.value == $1.value })
    }
}
