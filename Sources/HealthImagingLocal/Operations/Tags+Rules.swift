/// Tag keys and values as the model constrains them, and the ARNs that name taggable resources.
enum TagRules {
    static let maxTags = 50

    /// TagKey: 1–128 characters of `[a-zA-Z+-=._:/]` (the range `+-=` spans `+ , - . / 0-9 : ; < =`), not `aws:`-prefixed.
    static func keyProblem(_ key: String) -> String? {
        let bytes = key.utf8
        guard (1...128).contains(bytes.count) else { return "a tag key must be 1–128 characters" }
        guard !key.lowercased().hasPrefix("aws:") else { return "a tag key must not start with aws:" }
        let ok = bytes.allSatisfy { byte in
            (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x2B...0x3D).contains(byte) || "._:/".utf8.contains(byte)
        }
        return ok ? nil : "a tag key must match (?!aws:)[a-zA-Z+-=._:/]+"
    }

    static func valueProblem(_ value: String) -> String? {
        value.utf8.count <= 256 ? nil : "a tag value must be at most 256 characters"
    }

    /// A TagMap from a fixture or request body, every problem reported at its path.
    static func read(_ reader: JSONReader) -> [(key: String, value: String)]? {
        guard case .object(let members) = reader.value else {
            reader.fail("expected an object of tag keys to string values, found \(reader.value.typeName)")
            return nil
        }
        if members.count > maxTags { reader.fail("at most \(maxTags) tags per resource") }
        var tags: [(String, String)] = []
        for member in members {
            let path = "\(reader.path).\(member.key)"
            if let problem = keyProblem(member.key) { reader.fail(problem, at: path); continue }
            guard case .string(let value) = member.value else {
                reader.fail("expected a string tag value, found \(member.value.typeName)", at: path)
                continue
            }
            if let problem = valueProblem(value) { reader.fail(problem, at: path); continue }
            tags.append((member.key, value))
        }
        return tags
    }

    /// The datastore and image set an ARN names in the caller's namespace (ARNs of another account or
    /// region name nothing here: ResourceNotFoundException).
    static func resource(_ arn: String, namespace: Namespace) throws(APIError) -> (datastoreId: String, imageSetId: String) {
        guard Validate.matches(arn, Validate.arnPattern) else {
            throw APIError.invalid(arn, at: "resourceArn", "Member must satisfy regular expression pattern: \(Validate.arnPattern)")
        }
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        let path = parts[5].split(separator: "/")
        guard parts[3] == namespace.region, parts[4] == namespace.account else {
            throw APIError.notFound("Resource \(arn) does not exist")
        }
        return (String(path[1]), path.count == 4 ? String(path[3]) : "")
    }

    /// Checks that the resource exists.
    static func requireResource(_ store: Store, _ namespace: Namespace, _ target: (datastoreId: String, imageSetId: String), arn: String) throws {
        guard try store.datastore(namespace, target.datastoreId) != nil else {
            throw APIError.notFound("Resource \(arn) does not exist")
        }
        if !target.imageSetId.isEmpty, try store.imageSetKey(namespace, target.datastoreId, target.imageSetId) == nil {
            throw APIError.notFound("Resource \(arn) does not exist")
        }
    }
}
