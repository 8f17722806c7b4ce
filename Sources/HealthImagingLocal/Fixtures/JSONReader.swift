import HealthImagingJSON
/// Walks a parsed JSON document for validation, knowing its own JSON path and collecting issues instead of
/// stopping at the first, so one run of the loader reports everything wrong with a file.
struct JSONReader {
    let value: JSONValue
    let path: String
    let issues: IssueList

    /// The issues found so far: the first `keep` in full, the rest only counted, so that a document with
    /// a million bad members costs a counter, not a million messages.
    final class IssueList {
        static let keep = 50
        var items: [FixtureIssue] = []
        /// Issues found beyond the ones kept.
        var omitted = 0
        var isEmpty: Bool { items.isEmpty }

        func append(_ issue: @autoclosure () -> FixtureIssue) {
            if items.count < Self.keep { items.append(issue()) } else { omitted += 1 }
        }

        /// Appends the issues of `other` (found in a part of the document read apart), as if found here.
        func absorb(_ other: IssueList) {
            for item in other.items { append(item) }
            omitted += other.omitted
        }

        /// At most `shown` issues, then "… and K more".
        func summary(shown: Int = 10, separator: String = "; ") -> String {
            let more = items.count - min(shown, items.count) + omitted
            let text = items.prefix(shown).map(\.description).joined(separator: separator)
            return more > 0 ? "\(text)\(separator)… and \(more) more" : text
        }
    }

    func fail(_ reason: @autoclosure () -> String, at path: @autoclosure () -> String? = nil) {
        issues.append(FixtureIssue(path: path() ?? self.path, reason: reason()))
    }

    /// The members of an object, reporting members outside `allowed` (strict: a typo is an error, not ignored).
    func object(allowed: [String]) -> Bool {
        guard case .object(let members) = value else {
            fail("expected an object, found \(value.typeName)")
            return false
        }
        for member in members where !allowed.contains(member.key) {
            let hint = allowed.first { $0.lowercased() == member.key.lowercased() }.map { " (did you mean \"\($0)\"?)" } ?? ""
            fail("unknown member \"\(member.key)\"\(hint); allowed: \(allowed.joined(separator: ", "))", at: "\(path).\(member.key)")
        }
        return true
    }

    func member(_ key: String, required: Bool = false) -> JSONReader? {
        guard let child = value[key] else {
            if required { fail("missing required member \"\(key)\"", at: "\(path).\(key)") }
            return nil
        }
        return JSONReader(value: child, path: "\(path).\(key)", issues: issues)
    }

    func elements() -> [JSONReader]? {
        guard case .array(let items) = value else {
            fail("expected an array, found \(value.typeName)")
            return nil
        }
        return items.enumerated().map { JSONReader(value: $1, path: "\(path)[\($0)]", issues: issues) }
    }

    func string(_ check: ((String) -> String?)? = nil) -> String? {
        guard case .string(let text) = value else {
            fail("expected a string, found \(value.typeName)")
            return nil
        }
        if let problem = check?(text) {
            fail(problem)
            return nil
        }
        return text
    }

    func bool() -> Bool? {
        guard case .bool(let flag) = value else {
            fail("expected true or false, found \(value.typeName)")
            return nil
        }
        return flag
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ type: E.Type) -> E? where E.RawValue == String {
        string { text in
            E(rawValue: text) == nil
                ? "\"\(text)\" is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))" : nil
        }.flatMap(E.init(rawValue:))
    }

    /// A timestamp: epoch seconds as a JSON number (what the API returns), or an ISO 8601 string (what the
    /// AWS CLI v2 prints by default). Stored as milliseconds.
    func timestamp() -> Int64? {
        switch value {
        case .number(let text):
            guard let seconds = Double(text), let millis = Timestamp.millis(fromEpochSeconds: seconds) else {
                fail("\(text) is not a usable epoch-seconds timestamp")
                return nil
            }
            return millis
        case .string(let text):
            guard let millis = Timestamp.millis(fromISO8601: text) else {
                fail("\"\(text)\" is not an ISO 8601 date-time (like 2023-03-28T18:10:36.304Z)")
                return nil
            }
            return millis
        default:
            fail("expected a timestamp (epoch seconds or an ISO 8601 string), found \(value.typeName)")
            return nil
        }
    }
}

extension JSONReader {
    /// A whole number within `range`.
    func integer(range: ClosedRange<Int>) -> Int? {
        guard case .number(let text) = value, let number = Int(text) else {
            fail("expected a whole number, found \(value.typeName == "number" ? "a fraction" : value.typeName)")
            return nil
        }
        guard range.contains(number) else {
            fail("\(number) is out of range \(range.lowerBound)…\(range.upperBound)")
            return nil
        }
        return number
    }

    /// A number within `range`.
    func number(range: ClosedRange<Double>) -> Double? {
        guard case .number(let text) = value, let number = Double(text) else {
            fail("expected a number, found \(value.typeName)")
            return nil
        }
        guard range.contains(number) else {
            fail("\(text) is out of range \(range.lowerBound)…\(range.upperBound)")
            return nil
        }
        return number
    }
}

extension JSONReader {
    /// Reads a whole document with `read`; every issue found (or the syntax error) becomes one FixtureError
    /// naming `source`, and nothing is returned unless the document is valid.
    static func document<T>(_ bytes: [UInt8], source: String, _ read: (JSONReader) -> T?) throws(FixtureError) -> T {
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw FixtureError(source: source, issues: [FixtureIssue(path: "$", reason: error.description)])
        }
        let issues = IssueList()
        let value = read(JSONReader(value: root, path: "$", issues: issues))
        guard issues.isEmpty, let value else { throw FixtureError(source: source, issues: issues.items, omitted: issues.omitted) }
        return value
    }

    /// Validates a parsed request body with `read`; any issue found becomes one ValidationException listing them all.
    static func validated<T>(_ body: JSONValue, _ read: (JSONReader) -> T?) throws(APIError) -> T {
        let issues = IssueList()
        let value = read(JSONReader(value: body, path: "$", issues: issues))
        guard issues.isEmpty, let value else {
            let text = issues.isEmpty ? "invalid request body" : issues.summary()
            throw .validation(text)
        }
        return value
    }
}
