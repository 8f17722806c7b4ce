import Foundation

/// The key pairs `--verify-signatures` accepts: `--credentials ACCESS:SECRET` (repeatable) and `--credentials-file`.
extension SignatureVerifier {
    /// `ACCESS:SECRET` (the secret may itself hold `:`); nil when either part is empty.
    public static func credential(_ text: String) -> (accessKeyId: String, secret: String)? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let key = String(text[..<colon]), secret = String(text[text.index(after: colon)...])
        return key.isEmpty || secret.isEmpty || key.contains("/") ? nil : (key, secret)
    }

    /// A credentials file: one `ACCESS:SECRET` per line (blank lines and `#` comments skipped), or the AWS
    /// shared-credentials format (`aws_access_key_id = …` / `aws_secret_access_key = …` in `[profile]` sections).
    /// Throws a message naming the line of every problem.
    public static func credentials(file text: String, source: String) throws(FixtureError) -> [(accessKeyId: String, secret: String)] {
        var pairs: [(String, String)] = []
        var issues: [FixtureIssue] = []
        var pendingKey: String?
        var pendingSecret: String?
        func flushProfile() {
            if let key = pendingKey, let secret = pendingSecret { pairs.append((key, secret)) }
            pendingKey = nil
            pendingSecret = nil
        }
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                flushProfile()
                continue
            }
            if let equals = line.firstIndex(of: "=") {
                let name = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
                let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                if name == "aws_access_key_id" { pendingKey = value } else if name == "aws_secret_access_key" { pendingSecret = value }
                continue
            }
            if let pair = credential(line) { pairs.append(pair) } else {
                issues.append(FixtureIssue(path: "line \(index + 1)", reason: "expected ACCESS_KEY_ID:SECRET_ACCESS_KEY"))
            }
        }
        flushProfile()
        if pairs.isEmpty && issues.isEmpty { issues.append(FixtureIssue(path: "$", reason: "no credentials in the file")) }
        if !issues.isEmpty { throw FixtureError(source: source, issues: issues) }
        return pairs
    }
}
