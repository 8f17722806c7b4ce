/// One problem in a fixture document: where (a JSON path like `$.datastores[0].imageSetId`) and why.
public struct FixtureIssue: Error, Equatable, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// A fixture document that did not load: the file (or other source) and every issue found in it.
public struct FixtureError: Error, Sendable, CustomStringConvertible {
    public let source: String
    public let issues: [FixtureIssue]
    /// Issues found but not kept (a reader keeps the first few dozen).
    public let omitted: Int

    public init(source: String, issues: [FixtureIssue], omitted: Int = 0) {
        self.source = source
        self.issues = issues
        self.omitted = omitted
    }

    public var description: String {
        let shown = issues.prefix(20).map { "  \(source): \($0)" }.joined(separator: "\n")
        let more = issues.count + omitted > 20 ? "\n  … and \(issues.count + omitted - 20) more" : ""
        return "invalid fixture \(source):\n\(shown)\(more)"
    }

    /// The first `shown` issues (each with `label` applied), then "… and K more": a bounded message.
    public func summary(shown: Int = 10, separator: String = "; ", _ label: (FixtureIssue) -> String = \.description) -> String {
        let text = issues.prefix(shown).map(label).joined(separator: separator)
        let more = max(0, issues.count - shown) + omitted
        return more > 0 ? "\(text)\(separator)… and \(more) more" : text
    }
}
