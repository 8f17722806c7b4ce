/// How much each namespace holds: the answers of health, reset and load. Health is what CI waits and the
/// Docker HEALTHCHECK poll, during imports too, so it must not cost a scan of every version: counting versions
/// by image set visits each image set's B-tree pages (about 50 ms for 5,000 image sets on disk). The image set
/// and version counts are kept instead, per namespace, by the only two inserts (`insertImageSet`,
/// `insertVersionRow`) and by `reset`, the only deletion of image sets; they are counted in SQL once after the
/// store opens and again after a rollback (which may have undone counted inserts). Datastores stay counted in
/// SQL: a few rows, by primary key.
extension Store {
    public struct Counts: Equatable, Sendable {
        public var datastores: Int
        public var imageSets: Int
        public var versions: Int
    }

    /// What one namespace holds.
    public func counts(_ namespace: Namespace) throws -> Counts {
        let datastores = try database.cached("SELECT count(*) FROM datastores WHERE account = ? AND region = ?")
            .bind(1, namespace.account).bind(2, namespace.region).count()
        let tally = try tallied()[namespace] ?? Tally()
        return Counts(datastores: datastores, imageSets: tally.imageSets, versions: tally.versions)
    }

    /// What every namespace holds together.
    public func counts() throws -> Counts {
        let datastores = try database.cached("SELECT count(*) FROM datastores").count()
        let tallies = try tallied().values
        return Counts(datastores: datastores, imageSets: tallies.reduce(0) { $0 + $1.imageSets },
                      versions: tallies.reduce(0) { $0 + $1.versions })
    }

    /// How many namespaces hold at least one datastore.
    public func namespaceCount() throws -> Int {
        try database.cached("SELECT count(*) FROM (SELECT DISTINCT account, region FROM datastores)").count()
    }

    /// Image sets and versions of one namespace.
    struct Tally: Equatable {
        var imageSets = 0
        var versions = 0
    }

    /// The kept counts, counted in SQL first when there are none.
    func tallied() throws -> [Namespace: Tally] {
        if let tally { return tally }
        var counted: [Namespace: Tally] = [:]
        let imageSets = try database.cached("SELECT account, region, count(*) FROM image_sets GROUP BY account, region")
        while try imageSets.step() {
            counted[imageSets.namespace(0), default: Tally()].imageSets = Int(imageSets.int64(2) ?? 0)
        }
        let versions = try database.cached("""
            SELECT s.account, s.region, count(*) FROM image_sets s JOIN image_set_versions v ON v.image_set_pk = s.pk
            GROUP BY s.account, s.region
            """)
        while try versions.step() {
            counted[versions.namespace(0), default: Tally()].versions = Int(versions.int64(2) ?? 0)
        }
        tally = counted
        return counted
    }

    /// An image set row was inserted.
    func tallyImageSet(_ key: Int64, in namespace: Namespace) {
        guard tally != nil else { return }
        tally![namespace, default: Tally()].imageSets += 1
        lastTallied = (key, namespace)
    }

    /// A version row was inserted. Its image set's namespace is looked up unless it is the image set counted last
    /// (an import or a fixture inserts an image set, then its versions).
    func tallyVersion(of key: Int64) throws {
        guard tally != nil else { return }
        let namespace: Namespace
        if let last = lastTallied, last.key == key {
            namespace = last.namespace
        } else {
            let found = try database.cached("SELECT account, region FROM image_sets WHERE pk = ?").bind(1, key)
                .first { $0.namespace(0) }
            // Not found (never after an insert by key): the counts can no longer be trusted.
            guard let found else { return forgetTally() }
            namespace = found
            lastTallied = (key, namespace)
        }
        tally![namespace, default: Tally()].versions += 1
    }

    /// Image sets were deleted: those of `namespace`, or all (nil).
    func tallyReset(_ namespace: Namespace?) {
        // Image set keys may be given again after a deletion: the remembered one may now name another image set.
        lastTallied = nil
        if let namespace { tally?[namespace] = nil } else { tally = [:] }
    }

    /// The counts may be wrong (a rollback undid counted inserts): count again in SQL when next asked.
    func forgetTally() {
        tally = nil
        lastTallied = nil
    }
}
