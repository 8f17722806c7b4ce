/// Writing and editing parsed JSON: the stored DICOM metadata documents are `JSONValue`s, edited by
/// UpdateImageSetMetadata and CopyImageSet and written back out byte for byte (numbers keep their text).
extension JSONValue {
    /// Compact JSON text.
    public func serialized() -> [UInt8] {
        var writer = JSONWriter(capacity: 1024)
        write(to: &writer)
        return writer.bytes
    }

    func write(to writer: inout JSONWriter) {
        switch self {
        case .null: writer.raw(Array("null".utf8))
        case .bool(let flag): writer.bool(flag)
        case .number(let text): writer.raw(Array(text.utf8))
        case .string(let text): writer.string(text)
        case .array(let items): writer.array { list in for item in items { item.write(to: &list) } }
        case .object(let members):
            writer.object { object in
                for member in members {
                    object.field(member.key, raw: member.value.serialized())
                }
            }
        }
    }

    /// The value at a path of object member names.
    public func value(at path: [String]) -> JSONValue? {
        var current: JSONValue? = self
        for key in path { current = current?[key] }
        return current
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var objectMembers: [(key: String, value: JSONValue)]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// `self` with member `key` set (replaced in place, or appended).
    public func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].value = value
        } else {
            members.append((key, value))
        }
        return .object(members)
    }

    /// Deep merge: objects merge member by member, anything else in `patch` replaces what is here.
    public func merging(_ patch: JSONValue) -> JSONValue {
        guard case .object(var members) = self, case .object(let changes) = patch else { return patch }
        for change in changes {
            if let index = members.firstIndex(where: { $0.key == change.key }) {
                members[index].value = members[index].value.merging(change.value)
            } else {
                members.append(change)
            }
        }
        return .object(members)
    }

    /// Removes what `pattern` names: a member whose pattern value is an object with members is descended
    /// into; any other pattern value (a scalar, an array, `{}`) removes the member itself.
    public func removing(_ pattern: JSONValue) -> JSONValue {
        guard case .object(var members) = self, case .object(let removals) = pattern else { return self }
        for removal in removals {
            guard let index = members.firstIndex(where: { $0.key == removal.key }) else { continue }
            if case .object(let inner) = removal.value, !inner.isEmpty, case .object = members[index].value {
                members[index].value = members[index].value.removing(removal.value)
            } else {
                members.remove(at: index)
            }
        }
        return .object(members)
    }
}
