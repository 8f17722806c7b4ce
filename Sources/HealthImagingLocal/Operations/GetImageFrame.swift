import HealthImagingJSON
import HealthImagingDICOM
import HealthImagingHTTP
/// `POST /datastore/{datastoreId}/imageSet/{imageSetId}/getImageFrame` body `{"imageFrameId": "…"}` → the stored
/// frame's bytes with the Content-Type of its stored transfer syntax (`image/jph` for HTJ2K). A frame served is an
/// access to the image set (storage tiers).
/// Not cached by the read cache (`isReadOnly` false): frame bodies are large and would crowd out every other answer.
public enum GetImageFrame: Operation {
    public static let name = "GetImageFrame"
    public static let method = "POST"
    public static let path = "/datastore/{datastoreId}/imageSet/{imageSetId}/getImageFrame"

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let imageSetId = try Validate.resourceId(call.path("imageSetId"), member: "imageSetId")
        let frameId = try readFrameId(try call.jsonBody())
        var corrupt = false
        let frame = try call.store { store throws -> StoredFrame in
            let handle = try store.requireImageSet(call.namespace, datastoreId, imageSetId, read: true)
            if handle.latest.state == .deleted {
                throw APIError.notFound("Image set \(imageSetId) is DELETED")
            }
            corrupt = try store.takeFrameOutcome(call.namespace, datastoreId: datastoreId, imageSetId: imageSetId)
            if let frame = try store.frame(call.namespace, datastoreId: datastoreId, imageSetId: imageSetId, frameId: frameId) {
                try store.touchImageSet(handle.key)
                return frame
            }
            // A document frame not stored yet (fixture-seeded image sets): make the synthetic frames, then look again.
            try store.prepareFrames(handle)
            guard let frame = try store.frame(call.namespace, datastoreId: datastoreId, imageSetId: imageSetId, frameId: frameId) else {
                throw APIError.notFound("Image frame \(frameId) does not exist in image set \(imageSetId)")
            }
            try store.touchImageSet(handle.key)
            return frame
        }
        return Response(status: 200, headers: [("Content-Type", frame.contentType)],
                        body: corrupt ? FrameCodec.corrupted(frame) : frame.data)
    }

    static func readFrameId(_ body: JSONValue) throws(APIError) -> String {
        try JSONReader.validated(body) { reader -> String? in
            guard reader.object(allowed: ["imageFrameId"]) else { return nil }
            return reader.member("imageFrameId", required: true)?.string(Fixture.resourceIdProblem)
        }
    }
}
