/// `POST /datastore/{datastoreId}/imageSet/{imageSetId}/getImageFrame` — routed, answered with a JSON 501 (not implemented).
public enum GetImageFrame: NotImplementedOperation {
    public static let name = "GetImageFrame"
    public static let method = "POST"
    public static let path = "/datastore/{datastoreId}/imageSet/{imageSetId}/getImageFrame"
}
