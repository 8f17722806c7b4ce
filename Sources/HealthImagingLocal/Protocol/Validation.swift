/// Checks of the service model's patterns and ranges, done by hand on bytes (no regex on the hot path).
public enum Validate {
    /// `[0-9a-z]{32}`: DatastoreId, ImageSetId.
    public static func isResourceId(_ value: String) -> Bool {
        var count = 0
        for byte in value.utf8 {
            count += 1
            guard count <= 32, (0x30...0x39).contains(byte) || (0x61...0x7A).contains(byte) else { return false }
        }
        return count == 32
    }

    /// The largest version number a fixture or a control call may set (the model's `\d+` has no bound; the
    /// emulator keeps stored numbers far from Int64's end so that counting on from them never overflows).
    public static let maxSeededVersionId: Int64 = 2_147_483_647

    /// `\d+`: ImageSetExternalVersionId.
    public static func isVersionId(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }

    /// Message: 1–2048 characters of `[\w -:`]` — word characters, backtick, and the range space…colon.
    public static func isMessage(_ value: String) -> Bool {
        let count = value.utf8.count
        guard (1...2048).contains(count) else { return false }
        return value.utf8.allSatisfy { byte in
            (0x20...0x3A).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "`")
        }
    }

    /// DatastoreName: 1–256 characters of `[A-Za-z0-9._/#-]`.
    public static func isDatastoreName(_ value: String) -> Bool {
        let count = value.utf8.count
        guard (1...256).contains(count) else { return false }
        return value.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || ".-_/#".utf8.contains(byte)
        }
    }

    /// A path id parameter: ValidationException naming the member when it does not match `[0-9a-z]{32}`.
    public static func resourceId(_ value: String, member: String) throws(APIError) -> String {
        guard isResourceId(value) else {
            throw .invalid(value, at: member, "Member must satisfy regular expression pattern: [0-9a-z]{32}")
        }
        return value
    }

    /// `\d+` as a version number, or a ValidationException naming the member.
    public static func versionNumber(_ value: String, member: String) throws(APIError) -> Int64 {
        guard isVersionId(value), let number = Int64(value) else {
            throw .invalid(value, at: member, "Member must satisfy regular expression pattern: \\d+")
        }
        return number
    }

    /// An integer query parameter within `range`, or nil when absent.
    public static func integer(_ value: String?, member: String, range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let value else { return nil }
        guard let number = Int(value) else {
            throw .invalid(value, at: member, "Member must be an integer")
        }
        guard range.contains(number) else {
            let bound = number < range.lowerBound
                ? "greater than or equal to \(range.lowerBound)" : "less than or equal to \(range.upperBound)"
            throw .invalid(String(number), at: member, "Member must have value \(bound)")
        }
        return number
    }

    /// An enumeration query parameter (one of the service model's values), or nil when absent.
    public static func enumeration<E: RawRepresentable & CaseIterable>(_ value: String?, member: String) throws(APIError) -> E?
    where E.RawValue == String {
        guard let value else { return nil }
        guard let parsed = E(rawValue: value) else {
            throw .invalid(value, at: member, "Member must satisfy enum value set: [\(E.allCases.map(\.rawValue).joined(separator: ", "))]")
        }
        return parsed
    }
}
