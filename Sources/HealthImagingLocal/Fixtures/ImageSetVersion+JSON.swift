extension ImageSetVersion {
    /// Applies the `ImageSetProperties` members present in `reader` (all but the identity members
    /// `imageSetId` / `versionId`), validated against the model's enums and patterns. With `allowNull`, a
    /// JSON null clears an optional member (state injection); fixtures take no nulls.
    mutating func apply(_ reader: JSONReader, allowNull: Bool) {
        func present(_ key: String) -> JSONReader? { reader.member(key) }
        func isNull(_ member: JSONReader) -> Bool {
            guard allowNull, case .null = member.value else { return false }
            return true
        }
        if let member = present("imageSetState"), let value = member.enumeration(ImageSetState.self) { state = value }
        if let member = present("ImageSetWorkflowStatus") {
            if isNull(member) { workflowStatus = nil } else if let value = member.enumeration(ImageSetWorkflowStatus.self) { workflowStatus = value }
        }
        for (key, path) in [("createdAt", \ImageSetVersion.createdAt), ("updatedAt", \.updatedAt), ("deletedAt", \.deletedAt)] {
            guard let member = present(key) else { continue }
            if isNull(member) { self[keyPath: path] = nil } else if let value = member.timestamp() { self[keyPath: path] = value }
        }
        if let member = present("message") {
            if isNull(member) {
                message = nil
            } else if let value = member.string({
                Validate.isMessage($0) ? nil : "must be 1–2048 characters matching [\\w -:`]+ (letters, digits, _, `, and space through ':')"
            }) {
                message = value
            }
        }
        if let member = present("overrides") {
            if isNull(member) {
                forced = nil
            } else if member.object(allowed: ["forced"]), let value = member.member("forced")?.bool() {
                forced = value
            }
        }
        if let member = present("isPrimary") {
            if isNull(member) { isPrimary = nil } else if let value = member.bool() { isPrimary = value }
        }
    }
}
