/// Facts of the service model (medical-imaging 2023-07-19, as shipped in botocore): every operation with its
/// HTTP binding and the errors it may answer. Fault rules may only name errors listed here for their operation.
public enum ServiceModel {
    public struct OperationInfo: Sendable {
        public let name: String
        public let method: String
        public let path: String
        public let errors: [ErrorCode]
    }

    public static let operations: [OperationInfo] = [
        OperationInfo(name: "CopyImageSet", method: "POST", path: "/datastore/{datastoreId}/imageSet/{sourceImageSetId}/copyImageSet",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound, .serviceQuotaExceeded]),
        OperationInfo(name: "CreateDatastore", method: "POST", path: "/datastore",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound, .serviceQuotaExceeded]),
        OperationInfo(name: "DeleteDatastore", method: "DELETE", path: "/datastore/{datastoreId}",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "DeleteImageSet", method: "POST", path: "/datastore/{datastoreId}/imageSet/{imageSetId}/deleteImageSet",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "GetDICOMImportJob", method: "GET", path: "/getDICOMImportJob/datastore/{datastoreId}/job/{jobId}",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "GetDatastore", method: "GET", path: "/datastore/{datastoreId}",
                      errors: [.throttling, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "GetImageFrame", method: "POST", path: "/datastore/{datastoreId}/imageSet/{imageSetId}/getImageFrame",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound, .notAcceptable, .badRequest]),
        OperationInfo(name: "GetImageSet", method: "POST", path: "/datastore/{datastoreId}/imageSet/{imageSetId}/getImageSet",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "GetImageSetMetadata", method: "POST", path: "/datastore/{datastoreId}/imageSet/{imageSetId}/getImageSetMetadata",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "ListDICOMImportJobs", method: "GET", path: "/listDICOMImportJobs/datastore/{datastoreId}",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "ListDatastores", method: "GET", path: "/datastore",
                      errors: [.throttling, .accessDenied, .validation, .internalServer]),
        OperationInfo(name: "ListImageSetVersions", method: "POST", path: "/datastore/{datastoreId}/imageSet/{imageSetId}/listImageSetVersions",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "ListTagsForResource", method: "GET", path: "/tags/{resourceArn}",
                      errors: [.throttling, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "SearchImageSets", method: "POST", path: "/datastore/{datastoreId}/searchImageSets",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "StartDICOMImportJob", method: "POST", path: "/startDICOMImportJob/datastore/{datastoreId}",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound, .serviceQuotaExceeded]),
        OperationInfo(name: "TagResource", method: "POST", path: "/tags/{resourceArn}",
                      errors: [.throttling, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "UntagResource", method: "DELETE", path: "/tags/{resourceArn}",
                      errors: [.throttling, .accessDenied, .validation, .internalServer, .resourceNotFound]),
        OperationInfo(name: "UpdateImageSetMetadata", method: "POST", path: "/datastore/{datastoreId}/imageSet/{imageSetId}/updateImageSetMetadata",
                      errors: [.throttling, .conflict, .accessDenied, .validation, .internalServer, .resourceNotFound, .serviceQuotaExceeded]),
    ]

    /// The DICOMweb operations (not in botocore: plain HTTP on the DICOMweb host), named by IAM action, with the errors
    /// the emulator answers them with (docs/dicomweb.md "Errors"); fault rules and the journal accept these names.
    public static let dicomwebOperations: [OperationInfo] = {
        let reads: [ErrorCode] = [.throttling, .accessDenied, .validation, .internalServer, .resourceNotFound, .notAcceptable]
        let stores: [ErrorCode] = [.throttling, .accessDenied, .validation, .internalServer, .resourceNotFound, .conflict]
        let types: [any Operation.Type] = [
            GetDICOMInstance.self, GetDICOMInstanceMetadata.self, GetDICOMSeriesMetadata.self, GetDICOMInstanceFrames.self,
            GetDICOMBulkdata.self, SearchDICOMStudies.self, SearchDICOMSeries.self, SearchDICOMInstances.self,
            SearchDICOMStudyInstances.self, SearchDICOMAllSeries.self, SearchDICOMAllInstances.self, StoreDICOM.self,
            StoreDICOMStudy.self, UnsupportedDICOMweb.self,
        ]
        // Name and HTTP binding as each operation declares them; the two stores (the only POSTs) may also conflict.
        return types.map {
            OperationInfo(name: $0.name, method: $0.method, path: $0.path, errors: $0.method == "POST" ? stores : reads)
        }
    }()

    /// Every operation fault rules, the journal filter and the web view know: the service model's, then DICOMweb's.
    public static let allOperations = operations + dicomwebOperations

    public static func operation(named name: String) -> OperationInfo? {
        allOperations.first { $0.name == name }
    }
}
