/// `GET /listDICOMImportJobs/datastore/{datastoreId}` — routed, answered with a JSON 501 (not implemented).
public enum ListDICOMImportJobs: NotImplementedOperation {
    public static let name = "ListDICOMImportJobs"
    public static let method = "GET"
    public static let path = "/listDICOMImportJobs/datastore/{datastoreId}"
}
