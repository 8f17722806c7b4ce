import HealthImagingHTTP
/// State as fixtures, at runtime:
///   POST /_healthimaging/fixtures   ← a fixture document: loaded into the target namespace, all or nothing
///   GET  /_healthimaging/fixtures   → the target namespace's whole state, in the fixture format
///   POST /_healthimaging/reset      ← {"to": "startup" | "empty"} (default startup)
/// A reset acts on one namespace — `?account=&region=`, else the signed caller's, else (unsigned) the default
/// one: its data, fault rules, transition modes, planned outcomes and journal entries; to `startup` it then
/// reloads the startup fixtures and fault file when it is the default namespace. Resetting the default namespace
/// (or all) also puts the test clock back to the real time. `?scope=all` resets every
/// namespace (and the startup modes). So parallel workers reset independently and a typo never widens a reset.
enum FixtureEndpoints {
    static let all: [ControlPlane.Endpoint] = [
        .init("POST", "/_healthimaging/fixtures", load),
        .init("GET", "/_healthimaging/fixtures", export),
        .init("POST", "/_healthimaging/reset", query: ["scope"], reset),
    ]

    /// The document is read a piece at a time and inserted as it is read, in one transaction (FixtureStream).
    static func load(_ call: ControlCall) throws(APIError) -> Response {
        let (loaded, counts) = try call.emulator.run { emulator in
            let loaded = try emulator.store.database.transaction {
                try FixtureStream.run(bodies: [(call.request.body, "request")],
                                      load: FixtureLoad(store: emulator.store, namespace: call.namespace, existing: .fail))
            }
            return (loaded, try emulator.store.counts(call.namespace))
        }
        return .json(status: 201) {
            $0.field("loaded", object: {
                $0.field("datastores", Int64(loaded.datastores))
                $0.field("imageSets", Int64(loaded.imageSets))
                $0.field("versions", Int64(loaded.versions))
            })
            $0.field("total", object: {
                $0.field("datastores", Int64(counts.datastores))
                $0.field("imageSets", Int64(counts.imageSets))
                $0.field("versions", Int64(counts.versions))
            })
        }
    }

    static func export(_ call: ControlCall) throws(APIError) -> Response {
        let entries = try call.emulator.run { try $0.store.export(call.namespace) }
        return Response(json: Fixture.encode(entries))
    }

    static func reset(_ call: ControlCall) throws(APIError) -> Response {
        let target: String = try JSONReader.validated(try call.body()) { reader in
            guard reader.object(allowed: ["to"]) else { return nil }
            return reader.member("to")?.string { ["startup", "empty"].contains($0) ? nil : "must be \"startup\" or \"empty\"" } ?? "startup"
        }
        let scope = call.allNamespaces ? nil : call.namespace
        let emulator = call.emulator
        try emulator.run { emulator in
            try emulator.reset(namespace: scope, toStartup: target == "startup")
        }
        let counts = try emulator.run { emulator in try scope.map(emulator.store.counts) ?? emulator.store.counts() }
        return .json {
            $0.field("reset", target)
            $0.field("scope", scope?.description ?? "all")
            $0.field("datastores", Int64(counts.datastores))
            $0.field("imageSets", Int64(counts.imageSets))
            $0.field("versions", Int64(counts.versions))
        }
    }
}

extension Emulator {
    /// Resets one namespace (its data, fault rules, transition modes, outcomes, journal entries and events), or (nil)
    /// every namespace; `toStartup` then reloads the startup fixtures and fault file into the default namespace
    /// when it was reset.
    public func reset(namespace: Namespace?, toStartup: Bool) throws {
        // The fixture files are read (and validated) before anything is cleared.
        let reload = toStartup && (namespace == nil || namespace == defaultNamespace)
        if reload { _ = try FixtureStream.run(paths: configuration.fixtureFiles, load: nil) }
        try store.reset(namespace)
        if namespace == nil || namespace == defaultNamespace { try setClockOffset(0) }
        journal.clear(namespace)
        events.clear(namespace)
        authorizer.reset(namespace)
        if let namespace {
            faults[namespace] = nil
            try store.resetTransitionModes(namespace, startup: configuration.transitions)
        } else {
            faults = [:]
            try store.resetTransitionModes(nil, startup: configuration.transitions)
        }
        if reload {
            faults[defaultNamespace] = configuration.faults.engine()
            try loadStartupFixtures()
            Self.releaseFreedMemory()
        }
    }
}
