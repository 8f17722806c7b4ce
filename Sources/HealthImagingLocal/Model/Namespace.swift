/// Every resource lives in one account and region. Issue-level isolation: two namespaces never see each
/// other's datastores.
public struct Namespace: Hashable, Sendable, CustomStringConvertible {
    public var account: String
    public var region: String

    public init(account: String, region: String) {
        self.account = account
        self.region = region
    }

    public var description: String { "\(account)/\(region)" }
}
