import CLibevent
#if canImport(Glibc)
import Glibc
#endif

/// The startup fixtures: read from their files when loaded (at startup and by a reset to `startup`), put into
/// the store, and dropped. The store holds the loaded state; no parsed copy lives on beside it.
extension Emulator {
    /// The startup documents: `configuration.fixtures`, then the `fixtureFiles` read (and validated) now.
    public func startupDocuments() throws -> [Fixture] {
        let files = try configuration.fixtureFiles.isEmpty ? [] : FixtureLoader.read(paths: configuration.fixtureFiles)
        return configuration.fixtures + files
    }

    /// Loads the startup fixtures into the default namespace, all or nothing. A fixture datastore the database
    /// already has (in any state, DELETED included) is left as it is: restarting on the same `--db` with the same
    /// `--fixtures` changes nothing. `documents`: already read (nil: read them now).
    /// Without `documents`, the files are read a piece at a time and their image sets inserted as they come
    /// (FixtureStream): memory holds one image set, not the documents.
    @discardableResult
    public func loadStartupFixtures(_ documents: [Fixture]? = nil) throws -> (loaded: Int, skipped: Int) {
        let counts: (loaded: Int, skipped: Int)
        if let documents {
            counts = try store.load(documents, into: defaultNamespace, existing: .skip)
        } else {
            counts = try store.database.transaction {
                let load = FixtureLoad(store: store, namespace: defaultNamespace, existing: .skip)
                _ = try FixtureStream.run(paths: configuration.fixtureFiles, prelude: configuration.fixtures, load: load)
                return (load.loaded, load.skipped)
            }
        }
        // A large load leaves a large WAL; copy it into the database file now rather than at the next write.
        if store.isFile { try store.database.checkpoint(truncate: true) }
        return counts
    }

    /// Gives the memory freed after a large load (parsed fixtures) back to the system.
    /// > malloc_trim: attempts to release free memory from the heap (by calling sbrk(2) or madvise(2) with
    /// > suitable arguments). https://man7.org/linux/man-pages/man3/malloc_trim.3.html
    /// (From `<malloc.h>` through the CLibevent shim, as the HTTP server's trim after large bodies.)
    public static func releaseFreedMemory() {
        _ = malloc_trim(0)
    }

    /// The end of a clean shutdown (SIGTERM, SIGINT): the WAL checkpointed into the database file and truncated,
    /// the database closed and its lock released.
    public func shutdown() throws {
        imports.pool.shutdown()
        try store.close()
    }
}
