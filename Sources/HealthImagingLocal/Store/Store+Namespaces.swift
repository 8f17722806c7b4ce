/// Which namespaces hold data, for the web view's first page.
extension Store {
    /// Every (account, region) that owns at least one datastore, in order.
    public func namespaces() throws -> [Namespace] {
        let statement = try database.cached("SELECT DISTINCT account, region FROM datastores ORDER BY account, region")
        var result: [Namespace] = []
        while try statement.step() {
            if let account = statement.text(0), let region = statement.text(1) {
                result.append(Namespace(account: account, region: region))
            }
        }
        return result
    }
}
