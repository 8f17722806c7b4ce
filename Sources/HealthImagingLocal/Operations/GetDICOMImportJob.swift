/// `GET /getDICOMImportJob/datastore/{datastoreId}/job/{jobId}` — routed, answered with a JSON 501 (not implemented).
public enum GetDICOMImportJob: NotImplementedOperation {
    public static let name = "GetDICOMImportJob"
    public static let method = "GET"
    public static let path = "/getDICOMImportJob/datastore/{datastoreId}/job/{jobId}"
}
