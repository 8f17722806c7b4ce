import Crypto
import HealthImagingJSON
import HealthImagingDICOM
import HealthImagingHTTP

/// `POST /datastore` `{datastoreName?, clientToken, tags?, kmsKeyArn?, lambdaAuthorizerArn?, losslessStorageFormat?}`
/// → `{datastoreId, datastoreStatus: CREATING}`; the datastore then becomes ACTIVE (see `TransitionMode`).
/// The same clientToken again returns the same datastore; with different parameters, ConflictException.
public enum CreateDatastore: Operation {
    public static let name = "CreateDatastore"
    public static let method = "POST"
    public static let path = "/datastore"

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let body = try call.jsonBody()
        let request = try JSONReader.validated(body) { reader -> Datastore? in
            guard reader.object(allowed: ["datastoreName", "clientToken", "tags", "kmsKeyArn", "lambdaAuthorizerArn", "losslessStorageFormat"]) else { return nil }
            _ = reader.member("clientToken", required: true)?.string {
                Validate.isClientToken($0) ? nil : "must be 1–64 characters of [A-Za-z0-9._-]"
            }
            return DatastoreRequest.read(reader, id: "")
        }
        guard case .string(let token)? = body["clientToken"] else { throw APIError.validation("clientToken is required") }
        let digest = SHA256.hash(data: body.setting("clientToken", .null).serialized())
            .map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()

        let datastore = try call.store { store throws -> Datastore in
            try store.database.transaction {
                if let (existing, earlier) = try store.datastore(call.namespace, clientToken: token) {
                    guard earlier == digest else {
                        throw APIError.conflict("clientToken \(token) was already used with different parameters")
                    }
                    return existing
                }
                var datastore = request
                datastore.datastoreId = ResourceIds.make()
                datastore.status = .creating
                let now = Timestamp.nowMillis()
                datastore.createdAt = now
                datastore.updatedAt = now
                if datastore.losslessStorageFormat == nil { datastore.losslessStorageFormat = LosslessStorageFormat.htj2k.rawValue }
                try store.insertDatastore(call.namespace, datastore)
                try store.recordClientToken(call.namespace, datastore.datastoreId, token: token, digest: digest)
                try store.setTags(call.namespace, datastoreId: datastore.datastoreId, imageSetId: "", datastore.tags)
                try store.announceDatastore(call.namespace, datastore.datastoreId, now: now)
                try store.schedule(PendingTransition(
                    namespace: call.namespace, datastoreId: datastore.datastoreId, imageSet: nil,
                    state: DatastoreStatus.active.rawValue), now: now)
                return datastore
            }
        }
        var json = JSONWriter()
        json.object {
            $0.field("datastoreId", datastore.datastoreId)
            $0.field("datastoreStatus", datastore.status.rawValue)
        }
        return Response(json: json.bytes)
    }
}

/// The datastore members shared by CreateDatastore requests and fixtures, checked against the model.
enum DatastoreRequest {
    static func read(_ reader: JSONReader, id: String) -> Datastore? {
        let name = reader.member("datastoreName")?.string {
            Validate.isDatastoreName($0) ? nil : "must be 1–256 characters of [A-Za-z0-9._/#-]"
        }
        let kms = reader.member("kmsKeyArn")?.string {
            Validate.matches($0, Validate.kmsKeyArnPattern) ? nil : "is not a KMS key ARN (\(Validate.kmsKeyArnPattern))"
        }
        let lambda = reader.member("lambdaAuthorizerArn")?.string {
            Validate.matches($0, Validate.lambdaArnPattern) ? nil : "is not a Lambda function ARN (\(Validate.lambdaArnPattern))"
        }
        let format = reader.member("losslessStorageFormat")?.enumeration(LosslessStorageFormat.self)
        let tags = reader.member("tags").flatMap(TagRules.read) ?? []
        return Datastore(datastoreId: id, name: name, kmsKeyArn: kms, lambdaAuthorizerArn: lambda,
                         losslessStorageFormat: format?.rawValue, tags: tags)
    }
}

