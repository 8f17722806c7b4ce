/// State as fixtures, at runtime:
///   POST /_healthimaging/fixtures   ← a fixture document: loaded into the target namespace, all or nothing
///   GET  /_healthimaging/fixtures   → the target namespace's whole state, in the fixture format
///   POST /_healthimaging/reset      ← {"to": "startup" | "empty"} (default startup)
/// A reset without `?account=`/`?region=` clears every namespace, the fault rules and the journal, then (to
/// `startup`) reloads the startup fixtures and fault file. With a namespace it clears only that namespace's
/// data (reloading the startup fixtures when it is the default one), so parallel workers don't disturb each other.
enum FixtureEndpoints {
    static let all: [ControlPlane.Endpoint] = [
        .init("POST", "/_healthimaging/fixtures", load),
        .init("GET", "/_healthimaging/fixtures", export),
        .init("POST", "/_healthimaging/reset", reset),
    ]

    static func load(_ call: ControlCall) throws(APIError) -> Response {
        let document: Fixture
        do {
            document = try Fixture.decode(call.request.body, source: "request")
        } catch {
            throw .validation(error.issues.map(\.description).joined(separator: "; "))
        }
        let counts = try call.emulator.run { emulator in
            try emulator.store.load([document], into: call.namespace)
            return try emulator.store.counts()
        }
        return .json(status: 201) {
            $0.field("loaded", object: {
                $0.field("datastores", Int64(document.datastores.count))
                $0.field("imageSets", Int64(document.datastores.reduce(0) { $0 + $1.imageSets.count }))
                $0.field("versions", Int64(document.datastores.reduce(0) { $0 + $1.imageSets.reduce(0) { $0 + $1.versions.count } }))
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
        let scoped = call.request.query("account") != nil || call.request.query("region") != nil
        let emulator = call.emulator
        try emulator.run { emulator in
            try emulator.reset(namespace: scoped ? call.namespace : nil, toStartup: target == "startup")
        }
        let counts = try emulator.run { try $0.store.counts() }
        return .json {
            $0.field("reset", target)
            $0.field("scope", scoped ? call.namespace.description : "all")
            $0.field("datastores", Int64(counts.datastores))
            $0.field("imageSets", Int64(counts.imageSets))
            $0.field("versions", Int64(counts.versions))
        }
    }
}

extension Emulator {
    /// Resets one namespace's data, or everything (data, fault rules, journal); `toStartup` reloads the startup
    /// fixtures (into the default namespace) and fault file.
    public func reset(namespace: Namespace?, toStartup: Bool) throws {
        // The fixture files are read (and validated) before anything is cleared.
        let reload = toStartup && (namespace == nil || namespace == defaultNamespace)
        let documents = try reload ? startupDocuments() : []
        try store.reset(namespace)
        if namespace == nil {
            journal.clear()
            faults = toStartup ? configuration.faults.engine() : FaultEngine()
            for resource in TransitionResource.allCases { try store.setTransitionMode(resource, configuration.transitions) }
        }
        if reload {
            try loadStartupFixtures(documents)
            Self.releaseFreedMemory()
        }
    }
}
