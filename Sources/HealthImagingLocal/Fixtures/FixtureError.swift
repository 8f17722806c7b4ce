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

    public init(source: String, issues: [FixtureIssue]) {
        self.source = source
        self.issues = issues
    }

    public var description: String {
        let shown = issues.prefix(20).map { "  \(source): \($0)" }.joined(separator: "\n")
        let more = issues.count > 20 ? "\n  … and \(issues.count - 20) more" : ""
        return "invalid fixture \(source):\n\(shown)\(more)"
    }
}
