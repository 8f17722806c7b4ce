/// `POST /startDICOMImportJob/datastore/{datastoreId}` — routed, answered with a JSON 501 (not implemented).
public enum StartDICOMImportJob: NotImplementedOperation {
    public static let name = "StartDICOMImportJob"
    public static let method = "POST"
    public static let path = "/startDICOMImportJob/datastore/{datastoreId}"
}
