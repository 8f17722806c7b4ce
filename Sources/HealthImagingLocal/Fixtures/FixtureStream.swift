import HealthImagingJSON
/// Fixture documents read a piece at a time (issue 15 item 3): the document's frame — the root object, the
/// `datastores` array, each datastore object and its `imageSets` array — is walked here byte by byte, with
/// JSONParser's own rules and messages; every other value (a whole image set, a datastore's `datastoreId`, …) is
/// parsed alone by JSONParser (`parsePrefix`), validated by the same functions as `Fixture.decode`, and an image
/// set is inserted as soon as it is read. So memory holds one image set, not the document (whose parsed form was
/// 1.2 GB for 10⁶ versions).
///
/// What stays as it was:
/// - all or nothing: the caller's one transaction is rolled back when anything is wrong;
/// - the errors, word for word: a syntax error anywhere is the only issue reported, at the same line and column;
///   validation issues have the same JSON paths, in the same order (the issues found inside a streamed array are
///   collected apart and put back where `Fixture.entries` / `Fixture.datastore` would have found them), and any
///   of them wins over a store error (a datastore defined twice, or already there), as when validation ran first.
///
/// A datastore's image sets are inserted as they come when its `datastoreId` precedes `imageSets` (as exports
/// write it); otherwise that `imageSets` array is parsed whole, as before. Image sets are inserted before their
/// datastore's row (written at the datastore's end): foreign keys are checked at commit
/// (`PRAGMA defer_foreign_keys`).
final class FixtureStream {
    struct Counts: Equatable {
        var datastores = 0
        var imageSets = 0
        var versions = 0

        /// Counts a datastore read: it, its image sets and their versions.
        mutating func add(_ entry: Fixture.Entry) {
            datastores += 1
            imageSets += entry.imageSets.count
            versions += entry.imageSets.reduce(0) { $0 + $1.versions.count }
        }

        static func += (total: inout Counts, counts: Counts) {
            total.datastores += counts.datastores
            total.imageSets += counts.imageSets
            total.versions += counts.versions
        }
    }

    /// A syntax error at a byte offset of the document.
    struct SyntaxFailure: Error {
        var offset: Int
        var reason: String
    }

    private let bytes: FixtureBytes
    private let source: String
    /// Where valid pieces go; nil: validate only.
    private let load: FixtureLoad?
    /// The first store error met (reported only when the documents have no issue).
    private(set) var storeError: Error?
    private(set) var counts = Counts()

    private init(bytes: FixtureBytes, source: String, load: FixtureLoad?) {
        self.bytes = bytes
        self.source = source
        self.load = load
    }

    // MARK: the documents of a load

    /// Reads the fixture files at `paths` (files, or directories whose `*.json` files are read in name order)
    /// and `bodies` (documents in memory, with their source names), after `prelude` (documents already parsed);
    /// with `load`, inserts them through it (inside the caller's transaction). Throws the documents' issues
    /// (every file's, as FixtureLoader.read does), else the first store error.
    static func run(paths: [String] = [], bodies: [(bytes: [UInt8], source: String)] = [], prelude: [Fixture] = [],
                    load: FixtureLoad?) throws -> Counts {
        var errors: [FixtureError] = []
        var storeError: Error?
        var total = Counts()
        for document in prelude {
            for entry in document.datastores {
                total.add(entry)
                guard let load, storeError == nil else { continue }
                do { try load.load(entry, source: document.source) } catch let error as FixtureError { storeError = error }
            }
        }
        var inputs: [(FixtureBytes?, String)] = try FixtureLoader.files(paths: paths).map { (FixtureBytes(path: $0), $0) }
        inputs += bodies.map { (FixtureBytes(bytes: $0.bytes), $0.source) }
        if let load { try load.store.database.execute("PRAGMA defer_foreign_keys = ON") }
        for (input, source) in inputs {
            guard let input else {
                errors.append(FixtureError(source: source, issues: [FixtureIssue(path: "$", reason: "cannot read the file")]))
                continue
            }
            // Once a document has an issue nothing will be committed: the others are only validated.
            let stream = FixtureStream(bytes: input, source: source, load: errors.isEmpty ? load : nil)
            do {
                let issues = try stream.document()
                if input.failed {
                    errors.append(FixtureError(source: source, issues: [FixtureIssue(path: "$", reason: "cannot read the file")]))
                } else if !issues.isEmpty {
                    errors.append(FixtureError(source: source, issues: issues.items, omitted: issues.omitted))
                }
            } catch let failure as SyntaxFailure {
                let at = input.position(of: failure.offset)
                let error = JSONSyntaxError(line: at.line, column: at.column, reason: failure.reason)
                errors.append(FixtureError(source: source, issues: [FixtureIssue(path: "$", reason: error.description)]))
            }
            storeError = storeError ?? stream.storeError
            total += stream.counts
        }
        if let error = FixtureError.merged(errors) { throw error }
        if let storeError { throw storeError }
        return total
    }

    // MARK: one document

    /// Reads the document; returns its validation issues; throws a SyntaxFailure (or a storage error).
    private func document() throws -> JSONReader.IssueList {
        let issues = JSONReader.IssueList()
        bytes.skipWhitespace()
        if bytes.peek() == UInt8(ascii: "{") {
            var streamed: JSONReader.IssueList?
            let members = try objectMembers(depth: 0) { key, _ in
                if key == "datastores", streamed == nil, bytes.peek() == UInt8(ascii: "[") {
                    let found = JSONReader.IssueList()
                    streamed = found
                    try datastores(into: found)
                    return .array([])
                }
                return try value(depth: 1)
            }
            try end()
            _ = Fixture.entries(JSONReader(value: .object(members), path: "$", issues: issues), streamed: streamed)
        } else {
            let root = try value(depth: 0)
            try end()
            let entries = Fixture.entries(JSONReader(value: root, path: "$", issues: issues))
            var seen: Set<String> = []
            for entry in entries where seen.insert(entry.datastore.datastoreId).inserted { try add(entry) }
        }
        return issues
    }

    private func end() throws {
        bytes.skipWhitespace()
        if bytes.peek() != nil { throw SyntaxFailure(offset: bytes.offset, reason: "unexpected text after the JSON value") }
    }

    /// The `datastores` array, a datastore at a time.
    private func datastores(into issues: JSONReader.IssueList) throws {
        var seen: Set<String> = []
        try arrayElements(depth: 1) { index in
            let path = "$.datastores[\(index)]"
            var entry: Fixture.Entry?
            var claimed: Bool?
            let item: JSONReader
            if bytes.peek() == UInt8(ascii: "{") {
                var streamed: JSONReader.IssueList?
                let members = try objectMembers(depth: 2) { key, members in
                    if key == "imageSets", streamed == nil, bytes.peek() == UInt8(ascii: "["),
                        case .string(let id)? = members.first(where: { $0.key == "datastoreId" })?.value,
                        Fixture.resourceIdProblem(id) == nil {
                        claimed = claim(id, path: path)
                        let found = JSONReader.IssueList()
                        streamed = found
                        try imageSets(path: path + ".imageSets", into: found, datastoreId: claimed == true ? id : nil)
                        return .array([])
                    }
                    return try value(depth: 3)
                }
                item = JSONReader(value: .object(members), path: path, issues: issues)
                entry = Fixture.datastore(item, streamedImageSets: streamed)
            } else {
                item = JSONReader(value: try value(depth: 2), path: path, issues: issues)
                entry = Fixture.datastore(item)
            }
            guard let entry else { return }
            let id = entry.datastore.datastoreId
            if !seen.insert(id).inserted {
                item.fail("datastore \(id) appears twice in this document", at: "\(item.path).datastoreId")
                return
            }
            try add(entry, claimed: claimed)
        }
    }

    /// A datastore read: counted, and (with `load`) claimed unless it was already, and inserted.
    private func add(_ entry: Fixture.Entry, claimed: Bool? = nil) throws {
        counts.add(entry)
        guard let load else { return }
        if claimed ?? claim(entry.datastore.datastoreId, path: entry.path) { try load.insert(entry) }
    }

    /// Claims a datastore for the load; a store error is kept for later (false: nothing of it is inserted).
    private func claim(_ id: String, path: String) -> Bool {
        guard let load else { return false }
        do {
            return try load.claim(id, path: path, source: source)
        } catch {
            storeError = storeError ?? error
            return false
        }
    }

    /// A datastore's `imageSets` array, an image set at a time: each validated, and inserted into `datastoreId`.
    private func imageSets(path: String, into issues: JSONReader.IssueList, datastoreId: String?) throws {
        var seen: Set<String> = []
        try arrayElements(depth: 3) { index in
            let item = JSONReader(value: try value(depth: 4), path: "\(path)[\(index)]", issues: issues)
            guard let imageSet = Fixture.imageSet(item) else { return }
            guard seen.insert(imageSet.imageSetId).inserted else {
                item.fail("image set \(imageSet.imageSetId) appears twice in this datastore", at: "\(item.path).imageSetId")
                return
            }
            counts.imageSets += 1
            counts.versions += imageSet.versions.count
            if let datastoreId, let load { try load.insert(imageSet, datastoreId: datastoreId) }
        }
    }

    // MARK: JSONParser's rules for the frame

    /// One value, parsed whole. `depth`: the containers around it.
    private func value(depth: Int) throws -> JSONValue {
        let start = bytes.offset
        let piece = bytes.valueBytes()
        do {
            let (value, count) = try JSONParser.parsePrefix(piece, depth: depth)
            bytes.advance(count)
            return value
        } catch {
            // The error's line and column are in `piece`: back to an offset of the document.
            var line = 1
            var index = 0
            while line < error.line, index < piece.count {
                if piece[index] == 0x0A { line += 1 }
                index += 1
            }
            throw SyntaxFailure(offset: start + index + error.column - 1, reason: error.reason)
        }
    }

    /// Walks an object at the current `{` (JSONParser.object's rules and messages), `member` reading each value
    /// (given the key and the members before it); returns the members.
    private func objectMembers(depth: Int, _ member: (String, [(key: String, value: JSONValue)]) throws -> JSONValue) throws
        -> [(key: String, value: JSONValue)] {
        var members: [(key: String, value: JSONValue)] = []
        try enter(depth)
        if bytes.peek() == UInt8(ascii: "}") {
            bytes.advance()
            return members
        }
        var seen: Set<String> = []
        while true {
            guard bytes.peek() == UInt8(ascii: "\"") else {
                throw SyntaxFailure(offset: bytes.offset, reason: "expected a member name in quotes")
            }
            guard case .string(let key) = try value(depth: depth + 1) else { return members }
            guard seen.insert(key).inserted else {
                throw SyntaxFailure(offset: bytes.offset, reason: "duplicate member \"\(key.prefix(64))\"")
            }
            bytes.skipWhitespace()
            guard bytes.peek() == UInt8(ascii: ":") else { throw SyntaxFailure(offset: bytes.offset, reason: "expected ':'") }
            bytes.advance()
            bytes.skipWhitespace()
            members.append((key, try member(key, members)))
            bytes.skipWhitespace()
            guard let next = bytes.peek() else {
                throw SyntaxFailure(offset: bytes.offset, reason: "unexpected end of input in an object")
            }
            bytes.advance()
            if next == UInt8(ascii: ",") { bytes.skipWhitespace(); continue }
            if next == UInt8(ascii: "}") { return members }
            throw SyntaxFailure(offset: bytes.offset - 1, reason: "expected ',' or '}'")
        }
    }

    /// Walks an array at the current `[` (JSONParser.array's rules and messages), `element` reading each one.
    private func arrayElements(depth: Int, _ element: (Int) throws -> Void) throws {
        try enter(depth)
        if bytes.peek() == UInt8(ascii: "]") {
            bytes.advance()
            return
        }
        var index = 0
        while true {
            try element(index)
            index += 1
            bytes.skipWhitespace()
            guard let next = bytes.peek() else {
                throw SyntaxFailure(offset: bytes.offset, reason: "unexpected end of input in an array")
            }
            bytes.advance()
            if next == UInt8(ascii: ",") { bytes.skipWhitespace(); continue }
            if next == UInt8(ascii: "]") { return }
            throw SyntaxFailure(offset: bytes.offset - 1, reason: "expected ',' or ']'")
        }
    }

    /// Steps into a container at `depth` (the containers around it), as JSONParser.enter does.
    private func enter(_ depth: Int) throws {
        guard depth + 1 <= JSONParser.maxDepth else {
            throw SyntaxFailure(offset: bytes.offset, reason: "nesting deeper than \(JSONParser.maxDepth)")
        }
        bytes.advance()
        bytes.skipWhitespace()
    }
}
