import HealthImagingJSON
/// The last N API requests (not control calls): what the client sent and what it got, for assertions like
/// "the client retried 3 times" or "it sent maxResults=50". A ring buffer; the oldest entries drop off.
public struct Journal: Sendable {
    public struct Entry: Sendable {
        public var sequence: Int
        public var time: Int64
        public var namespace: Namespace
        public var operation: String?
        public var method: String
        public var path: String
        public var parameters: [String: String]
        public var query: [(name: String, value: String)]
        public var status: Int
        public var errorCode: String?
        public var latencyMillis: Double
        public var fault: String?

        func write(to json: inout JSONWriter) {
            json.object {
                $0.field("sequence", Int64(sequence))
                $0.field("time", timestampMillis: time)
                $0.field("account", namespace.account)
                $0.field("region", namespace.region)
                $0.field("operation", operation)
                $0.field("method", method)
                $0.field("path", path)
                $0.field("pathParameters", object: { object in
                    for key in parameters.keys.sorted() { object.field(key, parameters[key]) }
                })
                // A name given once maps to its value; a repeated one (`tagKeys=a&tagKeys=b`) to the array of its
                // values in order — never a duplicate JSON key.
                $0.field("query", object: { object in
                    var order: [String] = []
                    var values: [String: [String]] = [:]
                    for (name, value) in query {
                        if values[name] == nil { order.append(name) }
                        values[name, default: []].append(value)
                    }
                    for name in order {
                        guard let all = values[name] else { continue }
                        if all.count == 1 {
                            object.field(name, all[0])
                        } else {
                            object.field(name, array: { list in for value in all { list.string(value) } })
                        }
                    }
                })
                $0.field("status", Int64(status))
                $0.field("errorCode", nullable: errorCode)
                $0.field("latencyMs", raw: Array(String((latencyMillis * 1000).rounded() / 1000).utf8))
                $0.field("faultInjected", fault != nil)
                $0.field("faultRule", nullable: fault)
            }
        }
    }

    public let capacity: Int
    private var entries: [Entry] = []
    private var start = 0
    private var nextSequence = 1

    public init(capacity: Int) { self.capacity = max(capacity, 0) }

    public mutating func record(_ entry: Entry) {
        guard capacity > 0 else { return }
        var entry = entry
        entry.sequence = nextSequence
        nextSequence += 1
        if entries.count < capacity {
            entries.append(entry)
        } else {
            entries[start] = entry
            start = (start + 1) % capacity
        }
    }

    /// Entries oldest first.
    public var all: [Entry] { Array(entries[start...] + entries[..<start]) }

    public mutating func clear() {
        entries.removeAll()
        start = 0
    }

    /// Drops the entries of one namespace (nil: every entry).
    public mutating func clear(_ namespace: Namespace?) {
        guard let namespace else { return clear() }
        entries = all.filter { $0.namespace != namespace }
        start = 0
    }
}
